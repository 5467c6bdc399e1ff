import {
  type CheckpointStep,
  type CheckpointStepKey,
  CheckpointIdSchema,
  WORKFLOW_CHECKPOINT_SCHEMA_VERSION,
  type WorkflowCheckpoint,
  describeZodError,
} from '../contracts';
import type { TranscriptStore } from '../transcripts/events';
import type { StepCacheStore } from './step-cache';

/** A checkpoint exists but cannot be resumed from: corrupt, inconsistent, or from a newer schema. */
export class CheckpointUnreadableError extends Error {
  override readonly name = 'CheckpointUnreadableError';
}

export interface CheckpointSummary {
  checkpointId: string;
  steps: number;
  checkpointMs: number;
  /** Set when the checkpoint exists but cannot be resumed from, with the reason. */
  unreadable?: string;
}

/**
 * Whether a save landed. `stale` means the store already holds a checkpoint
 * with more completed steps, so this (older) write was refused.
 */
export type SaveResult = 'saved' | 'stale';

/**
 * A journal write: the steps completed since the last acknowledged save, on
 * top of the `savedCount` steps the store already holds. Sending only the new
 * steps keeps history linear in the number of steps, not quadratic.
 */
export interface CheckpointAppend {
  savedCount: number;
  steps: CheckpointStep[];
}

/** `missing-base`: the store holds fewer steps than `savedCount` (deleted or replaced meanwhile); resend everything. */
export type AppendResult = 'saved' | 'stale' | 'missing-base';

/**
 * SPEC's `SessionStore`, narrowed to workflow checkpoints. Temporal history
 * keeps one execution durable; this store lets a *new* execution, on any
 * worker, resume.
 *
 * Invariant: a checkpoint's steps only ever grow until it is deleted (every
 * save is the previous steps plus new completions), so the step count is the
 * journal's sequence number. Stores refuse a save with fewer steps than they
 * hold; that is what keeps a delayed or retried write from regressing.
 *
 * The step cache (./step-cache) is optional, so a store written against 1.0
 * still compiles: without it, steps with `cache` always run.
 */
export interface SessionStore extends Partial<StepCacheStore> {
  /** `undefined` when there is none; throws {@link CheckpointUnreadableError} when one exists but cannot be used. */
  load(checkpointId: string): Promise<WorkflowCheckpoint | undefined>;
  /**
   * The ids and spec digests of the steps `load` would give, without their
   * outcomes, as {@link load} answers otherwise. A resumable run's partitions
   * each read the index of their shared checkpoint as they start: read
   * through `load`, each would move every output the others recorded.
   * Optional, so a store written against 1.0 still compiles.
   */
  loadIndex?(checkpointId: string): Promise<CheckpointStepKey[] | undefined>;
  save(checkpointId: string, checkpoint: WorkflowCheckpoint): Promise<SaveResult>;
  /**
   * Adds steps to a checkpoint (creating it if `savedCount` is 0) as one
   * atomic step, merged by {@link mergeSteps}; its cost is in proportion to
   * the steps added, not to the checkpoint's size.
   */
  append(checkpointId: string, append: CheckpointAppend): Promise<AppendResult>;
  delete(checkpointId: string): Promise<void>;
  list(): Promise<CheckpointSummary[]>;
  /**
   * Keeps what a running agent step saved for its retries (see
   * src/activities/step-state.ts) under `key`, one record per step whatever
   * its attempt, durably before it resolves; `stale` (nothing written) when
   * the store holds a record from a later attempt, or from further on in this
   * one: see {@link isOlderStepState}.
   */
  saveStepState(key: string, record: StepStateRecord): Promise<SaveResult>;
  /** `undefined` when there is none; throws {@link CheckpointUnreadableError} when one exists but cannot be read. */
  loadStepState(key: string): Promise<StepStateRecord | undefined>;
  deleteStepState(key: string): Promise<void>;
  /** Every step-state record held, by key: those of running steps, and those their runs left behind. */
  listStepStates(): Promise<StepStateSummary[]>;
  /**
   * Where steps' transcripts are kept (src/transcripts/events.ts). Optional,
   * so a store written against 1.0 still compiles: without it no step keeps one.
   */
  readonly transcripts?: TranscriptStore;
  close?(): Promise<void>;
}

/** What a running agent step last saved for a retry to go on from, as the store keeps it between attempts. */
export interface StepStateRecord {
  /** The activity attempt that wrote it (1 on the first). */
  attempt: number;
  /**
   * When the Temporal server scheduled that attempt. Each retry (or reset) is
   * scheduled after the attempt before it, so this orders attempts even when
   * an old one is still running: one the server gave up on (its heartbeat
   * timed out while its worker lived) writes with an earlier time, and is refused.
   */
  attemptScheduledMs: number;
  /** How many states the step saved before this one, over all its attempts: the higher, the further on. */
  seq: number;
  savedMs: number;
  /** The executor's state, a JSON value. */
  state: unknown;
}

export interface StepStateSummary {
  key: string;
  attempt: number;
  seq: number;
  savedMs: number;
  /** Size of the state as stored, in bytes of JSON. */
  bytes: number;
  /** Set when the record exists but cannot be read, with the reason. */
  unreadable?: string;
}

/** Keys are built by the activity (workflow id, run id, activity id) and bounded there; this is every store's limit. */
export const MAX_STEP_STATE_KEY_BYTES = 1024;

/** Whether every store can hold `key` as is: bounded, printable. */
export function isStepStateKey(key: string): boolean {
  // eslint-disable-next-line no-control-regex
  const printable = !/[\u0000-\u001f\u007f]/.test(key);
  return printable && key.length > 0 && Buffer.byteLength(key) <= MAX_STEP_STATE_KEY_BYTES;
}

export function checkStepStateKey(key: string): string {
  if (!isStepStateKey(key)) {
    throw new Error(
      `bad step-state key: must be 1 to ${MAX_STEP_STATE_KEY_BYTES} bytes with no control characters`,
    );
  }
  return key;
}

/**
 * Whether `next` would take a step back from the `held` record: an earlier
 * attempt's write (see {@link StepStateRecord.attemptScheduledMs}) or, within
 * one attempt, an earlier state. The same state written again is not.
 */
export function isOlderStepState(
  held: Pick<StepStateRecord, 'attemptScheduledMs' | 'seq'> | undefined,
  next: Pick<StepStateRecord, 'attemptScheduledMs' | 'seq'>,
): boolean {
  if (!held) return false;
  if (next.attemptScheduledMs !== held.attemptScheduledMs)
    return next.attemptScheduledMs < held.attemptScheduledMs;
  return next.seq < held.seq;
}

/** Every store refuses ids it could not hold faithfully (huge, control characters) before touching storage. */
export function checkCheckpointId(checkpointId: string): string {
  const parsed = CheckpointIdSchema.safeParse(checkpointId);
  if (!parsed.success)
    throw new Error(`bad checkpoint id: ${describeZodError(parsed.error).replace(/^\(root\): /, '')}`);
  return checkpointId;
}

/** The a3s `ensure_loadable` rule: older versions load, newer ones and inconsistent records do not. */
export function ensureLoadable(checkpoint: WorkflowCheckpoint): WorkflowCheckpoint {
  if (checkpoint.schemaVersion > WORKFLOW_CHECKPOINT_SCHEMA_VERSION) {
    throw new CheckpointUnreadableError(
      `checkpoint schema version ${checkpoint.schemaVersion} is newer than ${WORKFLOW_CHECKPOINT_SCHEMA_VERSION}, the newest this build reads`,
    );
  }
  for (const step of checkpoint.steps) {
    if (step.outcome.taskId !== step.taskId) {
      throw new CheckpointUnreadableError(
        `checkpoint step ${step.taskId} holds an outcome for task ${step.outcome.taskId}`,
      );
    }
  }
  return checkpoint;
}

/**
 * What an append does to the steps held: union by taskId, so a retried append
 * whose first attempt landed changes nothing; a step recorded for another
 * spec (its spec changed, so the run did it again) is replaced in place.
 */
export function mergeSteps(
  held: readonly CheckpointStep[],
  added: readonly CheckpointStep[],
): CheckpointStep[] {
  const steps = [...held];
  mergeStepsInto(steps, stepIndex(steps), added);
  return steps;
}

/** A step's place in a checkpoint's index: its id and spec digest, absent when it has none. */
export const stepKey = ({ taskId, specDigest }: CheckpointStepKey): CheckpointStepKey => ({
  taskId,
  ...(specDigest !== undefined ? { specDigest } : {}),
});

/** Where each task's step is in `steps`. */
export function stepIndex(steps: readonly CheckpointStep[]): Map<string, number> {
  return new Map(steps.map((step, index) => [step.taskId, index]));
}

/**
 * {@link mergeSteps} in place, for a store that keeps `at` (see
 * {@link stepIndex}) beside the steps it holds: it costs what is added, not
 * what is held, and keeps `at` current.
 */
export function mergeStepsInto(
  steps: CheckpointStep[],
  at: Map<string, number>,
  added: readonly CheckpointStep[],
): void {
  for (const step of added) {
    const index = at.get(step.taskId);
    if (index === undefined) at.set(step.taskId, steps.push(step) - 1);
    else if (respecified(steps[index]!.specDigest, step)) steps[index] = step;
  }
}

/** Whether `next` replaces a held step whose spec digest was `held`. */
export function respecified(held: string | undefined, next: CheckpointStep): boolean {
  return held !== undefined && next.specDigest !== undefined && next.specDigest !== held;
}

export function isRegression(existing: WorkflowCheckpoint | undefined, next: WorkflowCheckpoint): boolean {
  return existing !== undefined && next.steps.length < existing.steps.length;
}

export function summarize(checkpointId: string, checkpoint: WorkflowCheckpoint): CheckpointSummary {
  return { checkpointId, steps: checkpoint.steps.length, checkpointMs: checkpoint.checkpointMs };
}

export function unreadableSummary(checkpointId: string, error: unknown): CheckpointSummary {
  return { checkpointId, steps: 0, checkpointMs: 0, unreadable: (error as Error).message };
}

export function stepStateSummary(
  key: string,
  record: Pick<StepStateRecord, 'attempt' | 'seq' | 'savedMs'>,
  bytes: number,
): StepStateSummary {
  return { key, attempt: record.attempt, seq: record.seq, savedMs: record.savedMs, bytes };
}
