import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { ErrorTypes, type StepFailureDetails, type TaoActivities } from '../activity-api';
import {
  AgentStepSpecSchema,
  DelegationAllowanceSchema,
  DelegationRequestSchema,
  StepOutcomeSchema,
  describeZodError,
} from '../contracts';
import { type AgentExecutor, NonRetryableStepError, RetryableStepError } from '../executors/executor';
import { stepMetrics } from '../telemetry/metrics';
import { stepSpan } from '../telemetry/step-span';
import type { SessionStore } from '../stores/session-store';
import { type StepHeartbeat, outputTail, resumePointFrom } from './heartbeat';
import { keepInCache } from './step-cache';
import { StepStateKeeper, isFinalFailure, stepStateKey } from './step-state';

/** Fallback beat when the workflow set no heartbeat timeout (Temporal then ignores beats anyway). */
const DEFAULT_HEARTBEAT_MS = 5_000;
/** The least time between output beats; the worker's heartbeat throttle applies on top. */
const OUTPUT_BEAT_MS = 500;

/** `store` keeps each step's resume state durable between attempts (see ./step-state); without one, only heartbeats do. */
export function createAgentStepActivity(
  executor: AgentExecutor,
  store?: SessionStore,
): Pick<TaoActivities, 'executeAgentStep'> {
  return {
    async executeAgentStep(rawSpec, allowance) {
      const ctx = Context.current();
      const started = Date.now();
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
      const delegation = allowance?.delegation && DelegationAllowanceSchema.safeParse(allowance.delegation);
      if (delegation && !delegation.success) {
        throw ApplicationFailure.nonRetryable(
          `invalid delegation allowance: ${describeZodError(delegation.error)}`,
          ErrorTypes.invalidInput,
          details,
        );
      }
      const metrics = stepMetrics(ctx.metricMeter, spec.data, attempt);
      const span = stepSpan(spec.data, attempt);
      // The SDK adds workflowId, activityId and attempt; taskId and agent name the step.
      const stepLog = { taskId: spec.data.taskId, agent: spec.data.agent };
      ctx.log.info('step started', stepLog);
      // Beat on our own clock so every executor, however written, stays visibly
      // alive and receives cancellation (which Temporal delivers on heartbeat).
      // Each beat repeats everything the executor reported, since a beat replaces the last one's details;
      // until the executor saves a newer state, the one this attempt resumed from is kept for the next retry.
      const latest: StepHeartbeat = { taskId: spec.data.taskId };
      const beat = () => ctx.heartbeat(latest);
      const beatEveryMs = Math.max(100, Math.floor((heartbeatTimeoutMs || DEFAULT_HEARTBEAT_MS * 3) / 3));
      let ticker: NodeJS.Timeout | undefined;
      // Output streams in many small pieces; one beat per interval shows it without a data-converter pass each.
      // Output after a quiet spell beats at once (a delay here adds to the SDK's throttle and the page's poll,
      // against the UI's 2 s); a burst's later pieces go in one beat at the interval's end.
      let outputBeat: NodeJS.Timeout | undefined;
      let lastOutputBeat = 0;
      const outputBeatNow = () => {
        lastOutputBeat = Date.now();
        beat();
      };
      const keeper = new StepStateKeeper(store, stepStateKey(ctx.info), ctx.info, ctx.log);
      let final = false;
      try {
        const resumed = await keeper.resumeFrom(resumePointFrom(ctx.info.heartbeatDetails, spec.data.taskId));
        if (resumed.state !== undefined) Object.assign(latest, { resume: resumed.state, seq: resumed.seq });
        // Not before: a beat without the state would replace the one that holds it.
        ticker = setInterval(beat, beatEveryMs);
        let seq = resumed.seq;
        const outcome = await executor.executeStep(spec.data, {
          signal: ctx.cancellationSignal,
          heartbeat: (info) => {
            latest.info = info;
            beat();
          },
          saveState: (state) => {
            seq++;
            latest.resume = state;
            latest.seq = seq;
            beat();
            return keeper.save(state, seq);
          },
          output: (text) => {
            latest.output = outputTail(text);
            // A beat already due carries this text too.
            if (outputBeat) return;
            const wait = lastOutputBeat + OUTPUT_BEAT_MS - Date.now();
            if (wait <= 0) return outputBeatNow();
            outputBeat = setTimeout(() => {
              outputBeat = undefined;
              outputBeatNow();
            }, wait);
          },
          attempt,
          workflowId: workflowExecution?.workflowId ?? '',
          ...(resumed.state !== undefined ? { resumeState: resumed.state } : {}),
          ...(allowance?.tokensLeft !== undefined ? { tokensLeft: allowance.tokensLeft } : {}),
          ...(delegation ? { delegation: delegation.data } : {}),
        });
        if ('delegation' in outcome) {
          if (!delegation) {
            throw new NonRetryableStepError(
              'the executor delegated tasks, but this workflow does not run delegated tasks',
            );
          }
          const request = DelegationRequestSchema.safeParse(outcome.delegation);
          if (!request.success) {
            throw new NonRetryableStepError(
              `executor returned a bad delegation: ${describeZodError(request.error)}`,
            );
          }
          // The state goes on in the request, through history: this attempt's record is done with.
          final = true;
          ctx.log.info('step delegated', {
            ...stepLog,
            tasks: request.data.calls.flatMap((c) => c.tasks).length,
          });
          return { delegation: request.data, attempt, durationMs: Date.now() - started };
        }
        const checked = StepOutcomeSchema.safeParse(outcome);
        if (!checked.success) {
          throw new NonRetryableStepError(
            `executor returned a bad outcome: ${describeZodError(checked.error)}`,
          );
        }
        final = true;
        metrics.finished(checked.data);
        span.finished(checked.data);
        ctx.log.info(checked.data.success ? 'step succeeded' : 'step failed', stepLog);
        await keepInCache(
          executor,
          store,
          spec.data,
          checked.data,
          workflowExecution?.workflowId ?? '',
          (error) => ctx.log.warn('step cache could not keep the outcome', { ...stepLog, error }),
        );
        return { outcome: checked.data, attempt, durationMs: Date.now() - started };
      } catch (error) {
        final = isFinalFailure(error, ctx);
        if (error instanceof CancelledFailure || ctx.cancellationSignal.aborted) throw error;
        const message = error instanceof Error ? error.message : String(error);
        metrics.crashed();
        ctx.log.warn('step attempt crashed', { ...stepLog, error: message });
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
        clearTimeout(outputBeat);
        await keeper.end(final);
      }
    },
  };
}
