import {
  CheckpointIdSchema,
  WORKFLOW_CHECKPOINT_SCHEMA_VERSION,
  type WorkflowCheckpoint,
  describeZodError,
} from '../contracts';

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
 * SPEC's `SessionStore`, narrowed to workflow checkpoints. Temporal history
 * keeps one execution durable; this store lets a *new* execution, on any
 * worker, resume.
 *
 * Invariant: a checkpoint's steps only ever grow until it is deleted (every
 * save is the previous steps plus new completions), so the step count is the
 * journal's sequence number. Stores refuse a save with fewer steps than they
 * hold; that is what keeps a delayed or retried write from regressing.
 */
export interface SessionStore {
  /** `undefined` when there is none; throws {@link CheckpointUnreadableError} when one exists but cannot be used. */
  load(checkpointId: string): Promise<WorkflowCheckpoint | undefined>;
  save(checkpointId: string, checkpoint: WorkflowCheckpoint): Promise<SaveResult>;
  delete(checkpointId: string): Promise<void>;
  list(): Promise<CheckpointSummary[]>;
  close?(): Promise<void>;
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

export function isRegression(existing: WorkflowCheckpoint | undefined, next: WorkflowCheckpoint): boolean {
  return existing !== undefined && next.steps.length < existing.steps.length;
}

export function summarize(checkpointId: string, checkpoint: WorkflowCheckpoint): CheckpointSummary {
  return { checkpointId, steps: checkpoint.steps.length, checkpointMs: checkpoint.checkpointMs };
}

export function unreadableSummary(checkpointId: string, error: unknown): CheckpointSummary {
  return { checkpointId, steps: 0, checkpointMs: 0, unreadable: (error as Error).message };
}
