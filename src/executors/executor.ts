import type { AgentStepSpec, StepOutcome } from '../contracts';

/** What the activity hands an executor for one attempt of one step. */
export interface StepContext {
  /** Aborted when Temporal cancels the activity (workflow cancelled, timed out, worker shutting down). */
  readonly signal: AbortSignal;
  /** Tell Temporal the step is alive; `details` shows as the activity's heartbeat details. */
  heartbeat(details?: unknown): void;
  /** 1 on the first attempt, 2 on the first retry, ... */
  readonly attempt: number;
  readonly workflowId: string;
}

/**
 * The one seam to the agent runtime (SPEC: `AgentExecutor`). Where and how a
 * step runs is the executor's business; the combinators only see outcomes.
 *
 * Failure contract: a step that ran but did not achieve its task returns
 * `success: false`. Throwing means the executor itself failed: a plain Error is
 * treated as transient and retried under the step policy; a
 * {@link RetryableStepError} is too, and may name when to retry; a
 * {@link NonRetryableStepError} is not retried.
 */
export interface AgentExecutor {
  executeStep(spec: AgentStepSpec, context: StepContext): Promise<StepOutcome>;
  concurrencyHint(): number;
}

/** The executor crashed in a way a retry cannot fix (bad config, a scripted `throw`, auth). */
export class NonRetryableStepError extends Error {
  override readonly name = 'NonRetryableStepError';
}

/**
 * A transient failure (rate limit, overloaded or unreachable service) that
 * says when to try again, e.g. from a `Retry-After` header. Temporal still
 * owns the retry: the delay replaces the policy's backoff for the next attempt
 * only, and `maximumAttempts` still bounds the step.
 */
export class RetryableStepError extends Error {
  override readonly name = 'RetryableStepError';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}
