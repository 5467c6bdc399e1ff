/**
 * Names a step on the span its activity runs in, when tracing is on: the
 * SDK's interceptor calls every step `RunActivity:executeAgentStep`, and a
 * trace is read by task. Only identities and counts go on a span, never a
 * prompt, an output or a setting.
 */
import { trace } from '@opentelemetry/api';
import type { AgentStepSpec, StepOutcome } from '../contracts';

export function stepSpan(spec: AgentStepSpec, attempt: number) {
  const span = trace.getActiveSpan();
  span?.setAttributes({ 'tao.task_id': spec.taskId, 'tao.agent': spec.agent, 'tao.attempt': attempt });
  return {
    finished(outcome: StepOutcome): void {
      span?.setAttribute('tao.success', outcome.success);
      if (outcome.usage) {
        span?.setAttributes({
          'tao.model': outcome.usage.model,
          'tao.input_tokens': outcome.usage.inputTokens,
          'tao.output_tokens': outcome.usage.outputTokens,
        });
      }
    },
  };
}
