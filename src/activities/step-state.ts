/**
 * An agent step's resume state, made durable turn by turn. The heartbeat
 * alone is not enough: the worker's heartbeat throttle sends at most one beat
 * a second, so with fast turns the server may hold a state several tool calls
 * old when the worker dies, and the retry runs those calls again. So every
 * saved state is also written to the checkpoint store, under a key per step
 * that every attempt of it shares, and the executor waits for that write
 * before its next side effect (a tool call, a model request).
 *
 * Every save numbers the state (`seq`, counted over all the step's attempts);
 * a retry is handed the further on of the heartbeat's state and the store's.
 * The heartbeat keeps carrying the state, so a store that lost it (or a
 * worker without one) still resumes from the last beat.
 *
 * Except a large one (see ./heartbeat, `HEARTBEAT_STATE_MAX_BYTES`): with a
 * store, a beat carries a large state's number only (`storedSeq`), so the
 * claim-check codec does not offload every beat of a long conversation to a
 * new blob. The store is then the only copy of the latest state. A retry
 * whose store lost it resumes from the further on of what it has, the last
 * state small enough to ride in a beat or the store's older record (or the
 * start), and logs a warning: the tool calls and model requests since that
 * state run again, as they would after losing a throttled beat without a
 * store. The invariant is unchanged: a retry never resumes from a state newer
 * than one that was saved, and never from another step's.
 *
 * The record goes when the step ends: it returned an outcome, or failed in a
 * way that will not be retried. A step whose run was terminated, or whose
 * last attempt died with its worker, leaves its record behind; `tao
 * checkpoint step-states` lists those and `tao checkpoint rm-step-state`
 * removes one. No other step ever reads it: the key holds the run id.
 */
import { createHash } from 'node:crypto';
import type { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { ErrorTypes } from '../activity-api';
import { NonRetryableStepError } from '../executors/executor';
import { CheckpointUnreadableError, type SessionStore, isStepStateKey } from '../stores/session-store';

/** Where a step goes on from: the state and how many saves it took to get there. */
export interface ResumePoint {
  state?: unknown;
  seq: number;
  /** A later state, number `storedSeq`, that a beat left to the checkpoint store (see ./heartbeat). */
  storedSeq?: number;
}

/** A step's state was written by a later attempt: this one was given up on by the server and must stop. */
export class SupersededAttemptError extends Error {
  override readonly name = 'SupersededAttemptError';
}

type ActivityInfo = Context['info'];

/**
 * The step's key: its workflow, run and activity ids, which every retry of
 * the activity shares and nothing else does. An id too long for a store's
 * key (or holding control characters) is replaced by its hash.
 */
export function stepStateKey(info: ActivityInfo): string | undefined {
  const execution = info.workflowExecution;
  if (!execution) return undefined;
  const key = `${execution.workflowId}/${execution.runId}/${info.activityId}`;
  if (isStepStateKey(key)) return key;
  const workflow = createHash('sha256').update(execution.workflowId).digest('hex');
  return `sha256:${workflow}/${execution.runId}/${createHash('sha256').update(info.activityId).digest('hex')}`;
}

/** One attempt's view of its step's record; without a store (or outside a workflow), it does nothing. */
export class StepStateKeeper {
  /** Whether the store may hold a record this attempt should remove when the step ends. */
  private held = false;
  private superseded = false;

  constructor(
    private readonly store: SessionStore | undefined,
    private readonly key: string | undefined,
    private readonly info: Pick<ActivityInfo, 'attempt' | 'currentAttemptScheduledTimestampMs'>,
    private readonly log: Pick<Context['log'], 'warn'>,
  ) {}

  /** Whether the store keeps this step's states, so a beat may leave a large one out (see ./heartbeat). */
  get keepsStates(): boolean {
    return Boolean(this.store && this.key);
  }

  /**
   * The further on of the heartbeat's state and the store's; a first attempt
   * has neither in the store. Warns when that is older than the state the
   * last beat said the store held (`storedSeq`): the store lost it.
   */
  async resumeFrom(beat: ResumePoint): Promise<ResumePoint> {
    const { storedSeq, ...fromBeat } = beat;
    const point = await this.furtherOn(fromBeat);
    if (storedSeq !== undefined && point.seq < storedSeq) {
      this.log.warn(
        'the step state its last heartbeat left in the checkpoint store is gone; the step resumes from an older one, and what it did since runs again',
        { storedSeq, resumedSeq: point.seq },
      );
    }
    return point;
  }

  private async furtherOn(beat: ResumePoint): Promise<ResumePoint> {
    if (!this.store || !this.key || this.info.attempt <= 1) return beat;
    let record;
    try {
      record = await this.store.loadStepState(this.key);
    } catch (error) {
      if (!(error instanceof CheckpointUnreadableError)) throw error;
      this.log.warn('step state unreadable; the step resumes from its last heartbeat', {
        reason: error.message,
      });
      this.held = true;
      return beat;
    }
    if (!record) return beat;
    this.held = true;
    return record.seq > beat.seq ? { state: record.state, seq: record.seq } : beat;
  }

  /** Resolves once the state is on disk (or in the database); throws when it cannot be, or a later attempt took over. */
  async save(state: unknown, seq: number): Promise<void> {
    if (!this.store || !this.key) return;
    this.held = true;
    const result = await this.store.saveStepState(this.key, {
      attempt: this.info.attempt,
      attemptScheduledMs: this.info.currentAttemptScheduledTimestampMs,
      seq,
      savedMs: Date.now(),
      state,
    });
    if (result === 'stale') {
      this.superseded = true;
      throw new SupersededAttemptError(
        `attempt ${this.info.attempt} of this step was given up on by the server and a later attempt has taken over; this one stops`,
      );
    }
  }

  /** Removes the record once the step has ended for good; a failure to is only logged, as the outcome stands. */
  async end(final: boolean): Promise<void> {
    if (!final || !this.held || this.superseded || !this.store || !this.key) return;
    try {
      await this.store.deleteStepState(this.key);
    } catch (error) {
      this.log.warn('could not remove the step state of a finished step', {
        key: this.key,
        reason: (error as Error).message,
      });
    }
  }
}

/** Whether an attempt that threw was the step's last: nothing will retry it, so its state is no longer needed. */
export function isFinalFailure(error: unknown, ctx: Pick<Context, 'info' | 'cancellationDetails'>): boolean {
  if (error instanceof SupersededAttemptError) return false;
  if (error instanceof CancelledFailure || ctx.cancellationDetails) {
    // Cancelled by the workflow, or the activity is gone (run ended); a worker shutting down, a timeout
    // or a pause leave the step to be retried.
    return Boolean(ctx.cancellationDetails?.cancelRequested || ctx.cancellationDetails?.notFound);
  }
  if (error instanceof NonRetryableStepError) return true;
  const policy = ctx.info.retryPolicy;
  if (policy?.nonRetryableErrorTypes?.includes(ErrorTypes.stepError)) return true;
  return (
    policy?.maximumAttempts !== undefined &&
    policy.maximumAttempts > 0 &&
    ctx.info.attempt >= policy.maximumAttempts
  );
}
