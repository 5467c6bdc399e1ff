import type { WorkflowCheckpoint } from '../contracts';
import { decodeA3sCheckpoint, encodeA3sCheckpoint } from './a3s-codec';
import {
  type CheckpointSummary,
  type SaveResult,
  type SessionStore,
  checkCheckpointId,
  isRegression,
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

  async save(checkpointId: string, checkpoint: WorkflowCheckpoint): Promise<SaveResult> {
    // Check and write with no await between them, so concurrent saves cannot interleave.
    const doc = this.docs.get(checkCheckpointId(checkpointId));
    let existing: WorkflowCheckpoint | undefined;
    try {
      existing = doc === undefined ? undefined : decodeA3sCheckpoint(doc);
    } catch {
      existing = undefined; // unreadable: replaced, as the file store does
    }
    if (isRegression(existing, checkpoint)) return 'stale';
    this.docs.set(checkpointId, encodeA3sCheckpoint(checkpoint));
    return 'saved';
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
