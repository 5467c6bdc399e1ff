import { WORKFLOW_CHECKPOINT_SCHEMA_VERSION, type WorkflowCheckpoint } from '../contracts';
import { decodeA3sCheckpoint, encodeA3sCheckpoint } from './a3s-codec';
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
  unreadableSummary,
} from './session-store';

/**
 * Process-local store. It keeps the encoded form rather than objects so that
 * it shares the file store's semantics exactly: what loads here loads there.
 */
export class MemorySessionStore implements SessionStore {
  private readonly docs = new Map<string, string>();

  async load(checkpointId: string): Promise<WorkflowCheckpoint | undefined> {
    const doc = this.docs.get(checkCheckpointId(checkpointId));
    return doc === undefined ? undefined : decodeA3sCheckpoint(doc);
  }

  // Check and write with no await between them, so concurrent saves and appends cannot interleave.
  async save(checkpointId: string, checkpoint: WorkflowCheckpoint): Promise<SaveResult> {
    if (isRegression(this.held(checkpointId), checkpoint)) return 'stale';
    this.docs.set(checkpointId, encodeA3sCheckpoint(checkpoint));
    return 'saved';
  }

  async append(checkpointId: string, { savedCount, steps }: CheckpointAppend): Promise<AppendResult> {
    const held = this.held(checkpointId);
    if ((held?.steps.length ?? 0) < savedCount) return 'missing-base';
    this.docs.set(
      checkpointId,
      encodeA3sCheckpoint({
        schemaVersion: WORKFLOW_CHECKPOINT_SCHEMA_VERSION,
        workflowId: checkpointId,
        steps: mergeSteps(held?.steps ?? [], steps),
        checkpointMs: Date.now(),
      }),
    );
    return 'saved';
  }

  /** What is held; an unreadable document counts as none and is replaced, as the file store does. */
  private held(checkpointId: string): WorkflowCheckpoint | undefined {
    const doc = this.docs.get(checkCheckpointId(checkpointId));
    try {
      return doc === undefined ? undefined : decodeA3sCheckpoint(doc);
    } catch {
      return undefined;
    }
  }

  async delete(checkpointId: string): Promise<void> {
    this.docs.delete(checkCheckpointId(checkpointId));
  }

  async list(): Promise<CheckpointSummary[]> {
    const summaries: CheckpointSummary[] = [];
    for (const id of [...this.docs.keys()].sort()) {
      try {
        summaries.push(summarize(id, (await this.load(id))!));
      } catch (error) {
        summaries.push(unreadableSummary(id, error));
      }
    }
    return summaries;
  }
}
