/**
 * TAO's own metrics, recorded through the SDK's metric meter, so they leave
 * by whatever exporter the Temporal runtime has (`tao worker --metrics` serves
 * them with Core's own as Prometheus). Every name starts with `tao_`; counts
 * carry the agent (and the model, for tokens).
 */
import type { MetricMeter } from '@temporalio/common';
import type { AgentStepSpec, StepOutcome } from '../contracts';

/** Records one step attempt: started (and retried, after the first attempt), then how it ended. */
export function stepMetrics(meter: MetricMeter, spec: AgentStepSpec, attempt: number) {
  const tags = { agent: spec.agent };
  meter.createCounter('tao_steps_started', 'steps', 'step attempts started').add(1, tags);
  if (attempt > 1)
    meter.createCounter('tao_steps_retried', 'steps', 'step attempts that were retries').add(1, tags);
  const started = Date.now();
  const ended = (result: 'succeeded' | 'failed' | 'crashed') => {
    meter
      .createHistogram('tao_step_duration', 'int', 'ms', 'wall-clock time of a step attempt')
      .record(Date.now() - started, { ...tags, result });
  };
  return {
    finished(outcome: StepOutcome): void {
      const result = outcome.success ? 'succeeded' : 'failed';
      meter.createCounter(`tao_steps_${result}`, 'steps', `steps that ${result}`).add(1, tags);
      if (outcome.usage) {
        const tokens = meter.createCounter('tao_tokens', 'tokens', 'model tokens used by steps');
        const model = { ...tags, model: outcome.usage.model };
        tokens.add(outcome.usage.inputTokens, { ...model, direction: 'input' });
        tokens.add(outcome.usage.outputTokens, { ...model, direction: 'output' });
      }
      ended(result);
    },
    crashed(): void {
      meter.createCounter('tao_steps_crashed', 'steps', 'step attempts whose executor threw').add(1, tags);
      ended('crashed');
    },
  };
}

/** Records one checkpoint save: `saved`, `stale` or `missing-base`, or a failure. */
export function checkpointSaveMetric(meter: MetricMeter, result: string): void {
  meter.createCounter('tao_checkpoint_saves', 'saves', 'checkpoint saves, by result').add(1, { result });
}
