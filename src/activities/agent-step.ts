import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { ErrorTypes, type StepFailureDetails, type TaoActivities } from '../activity-api';
import { AgentStepSpecSchema, StepOutcomeSchema, describeZodError } from '../contracts';
import { type AgentExecutor, NonRetryableStepError, RetryableStepError } from '../executors/executor';

/** Fallback beat when the workflow set no heartbeat timeout (Temporal then ignores beats anyway). */
const DEFAULT_HEARTBEAT_MS = 5_000;

export function createAgentStepActivity(executor: AgentExecutor): Pick<TaoActivities, 'executeAgentStep'> {
  return {
    async executeAgentStep(rawSpec) {
      const ctx = Context.current();
      const { attempt, workflowExecution, heartbeatTimeoutMs } = ctx.info;
      const details: StepFailureDetails = { attempt };
      const spec = AgentStepSpecSchema.safeParse(rawSpec);
      if (!spec.success) {
        throw ApplicationFailure.nonRetryable(
          `invalid step spec: ${describeZodError(spec.error)}`,
          ErrorTypes.invalidInput,
          details,
        );
      }
      // Beat on our own clock so every executor, however written, stays visibly
      // alive and receives cancellation (which Temporal delivers on heartbeat).
      // Each beat repeats the executor's latest progress so the ticker never hides it.
      let info: unknown;
      const beat = () => ctx.heartbeat({ taskId: spec.data.taskId, ...(info !== undefined ? { info } : {}) });
      const beatEveryMs = Math.max(100, Math.floor((heartbeatTimeoutMs || DEFAULT_HEARTBEAT_MS * 3) / 3));
      const ticker = setInterval(beat, beatEveryMs);
      try {
        const outcome = await executor.executeStep(spec.data, {
          signal: ctx.cancellationSignal,
          heartbeat: (latest) => {
            info = latest;
            beat();
          },
          attempt,
          workflowId: workflowExecution?.workflowId ?? '',
        });
        const checked = StepOutcomeSchema.safeParse(outcome);
        if (!checked.success) {
          throw new NonRetryableStepError(
            `executor returned a bad outcome: ${describeZodError(checked.error)}`,
          );
        }
        return { outcome: checked.data, attempt };
      } catch (error) {
        if (error instanceof CancelledFailure || ctx.cancellationSignal.aborted) throw error;
        const message = error instanceof Error ? error.message : String(error);
        if (error instanceof NonRetryableStepError) {
          throw ApplicationFailure.nonRetryable(message, ErrorTypes.stepCrashed, details);
        }
        if (error instanceof RetryableStepError && error.retryAfterMs !== undefined) {
          throw ApplicationFailure.create({
            message,
            type: ErrorTypes.stepError,
            details: [details],
            nextRetryDelay: error.retryAfterMs,
          });
        }
        throw ApplicationFailure.retryable(message, ErrorTypes.stepError, details);
      } finally {
        clearInterval(ticker);
      }
    },
  };
}
