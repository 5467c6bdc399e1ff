/**
 * The agent-step activity: one attempt of one step, as a short chain of
 * small stages, each its own unit. Check the input; resume from the state
 * an earlier attempt left (./step-state); beat (./heartbeat-reporter); take
 * one of the worker's step permits (./step-permits); call the executor
 * under the liveness watchdog (./stall-watchdog) and check what it returned
 * (./executor-call), its reported events going to the step's transcript
 * (src/transcripts/writer.ts); keep the outcome in the step cache, and in
 * the run's outcome store for a run by reference (./kept-outcome); and map a
 * failure to the error type the workflow's retry policy acts on.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { ErrorTypes, type StepAllowance, type StepFailureDetails, type TaoActivities } from '../activity-api';
import type { z } from 'zod';
import {
  AgentStepSpecSchema,
  AnswerAllowanceSchema,
  DelegationAllowanceSchema,
  OutcomePlaceSchema,
  ToolDecisionAllowanceSchema,
  ToolGrantSchema,
  describeZodError,
} from '../contracts';
import {
  type AgentExecutor,
  NonRetryableStepError,
  RetryableStepError,
  type StepContext,
} from '../executors/executor';
import { stepMetrics } from '../telemetry/metrics';
import { stepSpan } from '../telemetry/step-span';
import type { OutcomeStore } from '../outcomes';
import type { SessionStore } from '../stores/session-store';
import type { TranscriptKey } from '../transcripts/events';
import { TranscriptWriter } from '../transcripts/writer';
import { callExecutor } from './executor-call';
import { resumePointFrom } from './heartbeat';
import { HeartbeatReporter, beatPace } from './heartbeat-reporter';
import { DEFAULT_STALL_TIMEOUT_MS, StallWatchdog } from './stall-watchdog';
import { keepOutcome } from './kept-outcome';
import { keepInCache } from './step-cache';
import { stepMessagesReader } from './step-messages';
import type { StepPermits } from './step-permits';
import { type ResumePoint, StepStateKeeper, isFinalFailure, stepStateKey } from './step-state';

export interface AgentStepOptions {
  /** Keeps each step's resume state durable between attempts (see ./step-state); without one, only heartbeats do. */
  store?: SessionStore;
  /** The worker's step permits; without them, only the worker's activity slots bound its steps. */
  permits?: StepPermits;
  /** A step attempt with no progress for this long is retried; default {@link DEFAULT_STALL_TIMEOUT_MS}. */
  stallTimeoutMs?: number;
  /** See {@link StepContext.traceContent}. */
  traceContent?: boolean;
  /** Where runs by reference keep their outcomes; without one, such a step fails saying how to give one. */
  outcomes?: OutcomeStore;
}

export function createAgentStepActivity(
  executor: AgentExecutor,
  options: AgentStepOptions = {},
): Pick<TaoActivities, 'executeAgentStep'> {
  const { store, permits, stallTimeoutMs = DEFAULT_STALL_TIMEOUT_MS, traceContent, outcomes } = options;
  return {
    async executeAgentStep(rawSpec, allowance) {
      const ctx = Context.current();
      const started = Date.now();
      const { attempt, workflowExecution, heartbeatTimeoutMs } = ctx.info;
      const details: StepFailureDetails = { attempt };
      const { spec, delegation, answer, toolDecision, toolGrants, keep } = checkedInput(
        rawSpec,
        allowance,
        details,
      );
      const metrics = stepMetrics(ctx.metricMeter, spec, attempt);
      const span = stepSpan(spec, attempt);
      // The SDK adds workflowId, activityId and attempt; taskId and agent name the step.
      const stepLog = { taskId: spec.taskId, agent: spec.agent };
      ctx.log.info('step started', stepLog);
      const workflowId = workflowExecution?.workflowId ?? '';
      const keeper = new StepStateKeeper(store, stepStateKey(ctx.info), ctx.info, ctx.log);
      const reporter = new HeartbeatReporter(
        (beat) => ctx.heartbeat(beat),
        spec.taskId,
        beatPace(heartbeatTimeoutMs),
        keeper.keepsStates,
      );
      const watchdog = new StallWatchdog(
        spec.stallTimeoutMs ?? executor.stallTimeoutMs?.(spec) ?? stallTimeoutMs,
        `step "${spec.taskId}" (agent ${spec.agent})`,
        ctx.cancellationSignal,
      );
      const transcript = transcriptWriter(
        store,
        { workflowId, taskId: spec.taskId },
        attempt,
        (message, error) => ctx.log.warn(message, { ...stepLog, error }),
      );
      let release: (() => void) | undefined;
      let final = false;
      try {
        const beat = resumePointFrom(ctx.info.heartbeatDetails, spec.taskId);
        const resumed = await keeper.resumeFrom(beat);
        reporter.resumeFrom(beat, resumed);
        // Beats while it waits for a permit too: a queued step must not reach its heartbeat timeout.
        reporter.start();
        release = await permits?.acquire(ctx.cancellationSignal);
        const context = executorContext({ reporter, keeper, watchdog }, resumed, {
          attempt,
          workflowId,
          ...(allowance?.tokensLeft !== undefined ? { tokensLeft: allowance.tokensLeft } : {}),
          ...(delegation ? { delegation } : {}),
          ...(answer ? { answer } : {}),
          ...(toolDecision ? { toolDecision } : {}),
          ...(toolGrants ? { toolGrants } : {}),
          ...(traceContent ? { traceContent } : {}),
          ...(transcript ? { events: transcript } : {}),
          ...(executor.acceptsMessages
            ? {
                messages: stepMessagesReader(
                  () => ctx.client,
                  { workflowId, runId: workflowExecution?.runId ?? '' },
                  spec.taskId,
                  (message, error) => ctx.log.warn(message, { ...stepLog, error: messageOf(error) }),
                ),
              }
            : {}),
        });
        watchdog.start();
        const result = await callExecutor(executor, spec, context, watchdog.stalled);
        // What follows is the activity's own I/O, not the executor's silence.
        watchdog.stop();
        // The state goes on in a delegation request, through history; an outcome ends the step.
        final = true;
        if ('question' in result) {
          ctx.log.info('step asked a question', stepLog);
          return { question: result.question, attempt, durationMs: Date.now() - started };
        }
        if ('toolCall' in result) {
          ctx.log.info('step asked about a tool call', { ...stepLog, tool: result.toolCall.tool });
          return { toolCall: result.toolCall, attempt, durationMs: Date.now() - started };
        }
        if ('delegation' in result) {
          const tasks = result.delegation.calls.flatMap((c) => c.tasks).length;
          ctx.log.info('step delegated', { ...stepLog, tasks });
          return { delegation: result.delegation, attempt, durationMs: Date.now() - started };
        }
        const { outcome } = result;
        metrics.finished(outcome);
        span.finished(outcome);
        ctx.log.info(outcome.success ? 'step succeeded' : 'step failed', stepLog);
        await keepInCache(executor, store, spec, outcome, workflowId, (error) =>
          ctx.log.warn('step cache could not keep the outcome', { ...stepLog, error }),
        );
        return {
          outcome: keep ? await keepOutcome(outcomes, keep, spec, outcome) : outcome,
          attempt,
          durationMs: Date.now() - started,
        };
      } catch (thrown) {
        const cancelled = thrown instanceof CancelledFailure || ctx.cancellationSignal.aborted;
        // Whatever the executor threw once its signal was aborted for a stall, the stall is why.
        const error: unknown = !cancelled && watchdog.signal.aborted ? watchdog.signal.reason : thrown;
        final = isFinalFailure(error, ctx);
        if (cancelled) throw error;
        metrics.crashed();
        ctx.log.warn('step attempt crashed', { ...stepLog, error: messageOf(error) });
        throw attemptFailure(error, details);
      } finally {
        watchdog.stop();
        reporter.stop();
        release?.();
        await Promise.all([keeper.end(final), transcript?.close()]);
      }
    },
  };
}

/** What the workflow handed the step, checked at the boundary: bad input is not retried. */
function checkedInput(rawSpec: unknown, allowance: StepAllowance | undefined, details: StepFailureDetails) {
  const checked = <S extends z.ZodTypeAny>(what: string, schema: S, value: unknown): z.output<S> => {
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    throw ApplicationFailure.nonRetryable(
      `invalid ${what}: ${describeZodError(parsed.error)}`,
      ErrorTypes.invalidInput,
      details,
    );
  };
  const given = <S extends z.ZodTypeAny>(what: string, schema: S, value: unknown): z.output<S> | undefined =>
    value === undefined ? undefined : checked(what, schema, value);
  const { delegation, answer, toolDecision, toolGrants, keep } = allowance ?? {};
  return {
    spec: checked('step spec', AgentStepSpecSchema, rawSpec),
    delegation: given('delegation allowance', DelegationAllowanceSchema, delegation),
    answer: given('answer', AnswerAllowanceSchema, answer),
    toolDecision: given('tool decision', ToolDecisionAllowanceSchema, toolDecision),
    toolGrants: given('tool grants', ToolGrantSchema.array(), toolGrants),
    keep: given('outcome place', OutcomePlaceSchema, keep),
  };
}

/**
 * What the executor is handed: the watchdog's signal (a stall or the
 * activity's cancellation), every report as progress for the watchdog and
 * news for the heartbeat, and a saved state also made durable by the keeper,
 * numbered on from the point the attempt resumed from.
 */
function executorContext(
  units: { reporter: HeartbeatReporter; keeper: StepStateKeeper; watchdog: StallWatchdog },
  resumed: ResumePoint,
  rest: Pick<
    StepContext,
    | 'attempt'
    | 'workflowId'
    | 'tokensLeft'
    | 'delegation'
    | 'answer'
    | 'toolDecision'
    | 'toolGrants'
    | 'traceContent'
    | 'events'
    | 'messages'
  >,
): StepContext {
  const { reporter, keeper, watchdog } = units;
  let seq = resumed.seq;
  return {
    signal: watchdog.signal,
    heartbeat: (info) => {
      watchdog.progress('a progress report');
      reporter.info(info);
    },
    progress: () => watchdog.progress('streamed data'),
    saveState: (state) => {
      // A state saved after the attempt was given up on would race the retry's.
      if (watchdog.signal.aborted) return Promise.reject(watchdog.signal.reason as Error);
      watchdog.progress('a saved state');
      seq++;
      reporter.saved(state, seq);
      return keeper.save(state, seq);
    },
    output: (text) => {
      watchdog.progress('output');
      reporter.output(text);
    },
    ...rest,
    ...(resumed.state !== undefined ? { resumeState: resumed.state } : {}),
  };
}

/** The step's transcript writer, when the store keeps transcripts and the step belongs to a workflow. */
function transcriptWriter(
  store: SessionStore | undefined,
  key: TranscriptKey,
  attempt: number,
  warn: (message: string, error: string) => void,
): TranscriptWriter | undefined {
  if (!store?.transcripts || !key.workflowId) return undefined;
  return new TranscriptWriter(store.transcripts, key, attempt, warn);
}

/** The failure Temporal records for an attempt that threw: its type is what the retry policy acts on. */
function attemptFailure(error: unknown, details: StepFailureDetails): ApplicationFailure {
  const message = messageOf(error);
  if (error instanceof NonRetryableStepError) {
    return ApplicationFailure.nonRetryable(message, ErrorTypes.stepCrashed, details);
  }
  if (error instanceof RetryableStepError && error.retryAfterMs !== undefined) {
    return ApplicationFailure.create({
      message,
      type: ErrorTypes.stepError,
      details: [details],
      nextRetryDelay: error.retryAfterMs,
    });
  }
  return ApplicationFailure.retryable(message, ErrorTypes.stepError, details);
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
