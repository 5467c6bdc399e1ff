import {
  type CheckpointStep,
  WORKFLOW_CHECKPOINT_SCHEMA_VERSION,
  type WorkflowCheckpoint,
} from '../contracts';
import {
  decodeA3sCheckpoint,
  decodeA3sJournal,
  encodeA3sCheckpoint,
  encodeA3sJournalLine,
} from './a3s-codec';
import {
  type AppendResult,
  type CheckpointAppend,
  type CheckpointSummary,
  type SaveResult,
  type SessionStore,
  checkCheckpointId,
  isRegression,
  mergeSteps,
  summarize,
} from './session-store';

/**
 * Process-local store. What it keeps has been through the a3s encoding, so it
 * shares the file store's semantics exactly (what loads here loads there); an
 * append encodes only the steps it adds, so a long run costs what it records.
 */
export class MemorySessionStore implements SessionStore {
  private readonly held = new Map<string, WorkflowCheckpoint>();

  async load(checkpointId: string): Promise<WorkflowCheckpoint | undefined> {
    const checkpoint = this.held.get(checkCheckpointId(checkpointId));
    return checkpoint && structuredClone(checkpoint);
  }

  // Check and write with no await between them, so concurrent saves and appends cannot interleave.
  async save(checkpointId: string, checkpoint: WorkflowCheckpoint): Promise<SaveResult> {
    if (isRegression(this.held.get(checkCheckpointId(checkpointId)), checkpoint)) return 'stale';
    this.held.set(checkpointId, decodeA3sCheckpoint(encodeA3sCheckpoint(checkpoint)));
    return 'saved';
  }

  async append(checkpointId: string, { savedCount, steps }: CheckpointAppend): Promise<AppendResult> {
    const held = this.held.get(checkCheckpointId(checkpointId));
    if ((held?.steps.length ?? 0) < savedCount) return 'missing-base';
    const checkpointMs = Date.now();
    this.held.set(checkpointId, {
      schemaVersion: WORKFLOW_CHECKPOINT_SCHEMA_VERSION,
      workflowId: checkpointId,
      steps: mergeSteps(held?.steps ?? [], encoded(steps, checkpointMs)),
      checkpointMs,
    });
    return 'saved';
  }

  async delete(checkpointId: string): Promise<void> {
    this.held.delete(checkCheckpointId(checkpointId));
  }

  async list(): Promise<CheckpointSummary[]> {
    return [...this.held.keys()].sort().map((id) => summarize(id, this.held.get(id)!));
  }
}

/** `steps` as a journal line would give them back. */
function encoded(steps: readonly CheckpointStep[], checkpointMs: number): CheckpointStep[] {
  return decodeA3sJournal(encodeA3sJournalLine(steps, checkpointMs)).batches[0]?.steps ?? [];
}
