import {
  type CheckpointStep,
  type CheckpointStepKey,
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
  type StepStateRecord,
  type StepStateSummary,
  checkCheckpointId,
  checkStepStateKey,
  isOlderStepState,
  isRegression,
  mergeStepsInto,
  stepStateSummary,
  stepIndex,
  stepKey,
  summarize,
} from './session-store';
import { MemoryTranscripts } from './memory-transcripts';
import { type CacheEntry, type CacheEntrySummary, byKey, cacheSummary, isFresh } from './step-cache';

/**
 * Process-local store. What it keeps has been through the a3s encoding, so it
 * shares the file store's semantics exactly (what loads here loads there); an
 * append encodes only the steps it adds and merges them in place, so a long
 * run costs what it records. Nothing outside holds what is kept: `load`
 * returns a copy.
 */
export class MemorySessionStore implements SessionStore {
  private readonly held = new Map<string, { checkpoint: WorkflowCheckpoint; at: Map<string, number> }>();
  /** Step states as JSON text, as the other stores keep them: what loads here loads there. */
  private readonly stepStates = new Map<string, { record: StepStateRecord; json: string }>();
  private readonly cache = new Map<string, CacheEntry>();
  readonly transcripts = new MemoryTranscripts();

  async load(checkpointId: string): Promise<WorkflowCheckpoint | undefined> {
    const held = this.held.get(checkCheckpointId(checkpointId));
    return held && structuredClone(held.checkpoint);
  }

  async loadIndex(checkpointId: string): Promise<CheckpointStepKey[] | undefined> {
    return this.held.get(checkCheckpointId(checkpointId))?.checkpoint.steps.map(stepKey);
  }

  // Check and write with no await between them, so concurrent saves and appends cannot interleave.
  async save(checkpointId: string, checkpoint: WorkflowCheckpoint): Promise<SaveResult> {
    if (isRegression(this.held.get(checkCheckpointId(checkpointId))?.checkpoint, checkpoint)) return 'stale';
    const kept = decodeA3sCheckpoint(encodeA3sCheckpoint(checkpoint));
    this.held.set(checkpointId, { checkpoint: kept, at: stepIndex(kept.steps) });
    return 'saved';
  }

  async append(checkpointId: string, { savedCount, steps }: CheckpointAppend): Promise<AppendResult> {
    const held = this.held.get(checkCheckpointId(checkpointId)) ?? { checkpoint: undefined, at: new Map() };
    if ((held.checkpoint?.steps.length ?? 0) < savedCount) return 'missing-base';
    const checkpointMs = Date.now();
    const checkpoint: WorkflowCheckpoint = {
      schemaVersion: WORKFLOW_CHECKPOINT_SCHEMA_VERSION,
      workflowId: checkpointId,
      steps: held.checkpoint?.steps ?? [],
      checkpointMs,
    };
    mergeStepsInto(checkpoint.steps, held.at, encoded(steps, checkpointMs));
    this.held.set(checkpointId, { checkpoint, at: held.at });
    return 'saved';
  }

  async delete(checkpointId: string): Promise<void> {
    this.held.delete(checkCheckpointId(checkpointId));
  }

  async list(): Promise<CheckpointSummary[]> {
    return [...this.held.keys()].sort().map((id) => summarize(id, this.held.get(id)!.checkpoint));
  }

  async saveStepState(key: string, record: StepStateRecord): Promise<SaveResult> {
    if (isOlderStepState(this.stepStates.get(checkStepStateKey(key))?.record, record)) return 'stale';
    this.stepStates.set(key, { record: { ...record, state: undefined }, json: JSON.stringify(record.state) });
    return 'saved';
  }

  async loadStepState(key: string): Promise<StepStateRecord | undefined> {
    const held = this.stepStates.get(checkStepStateKey(key));
    return held && { ...held.record, state: JSON.parse(held.json) };
  }

  async deleteStepState(key: string): Promise<void> {
    this.stepStates.delete(checkStepStateKey(key));
  }

  async listStepStates(): Promise<StepStateSummary[]> {
    return [...this.stepStates.keys()].sort().map((key) => {
      const { record, json } = this.stepStates.get(key)!;
      return stepStateSummary(key, record, Buffer.byteLength(json));
    });
  }

  async getCached(key: string, nowMs: number): Promise<CacheEntry | undefined> {
    const entry = this.cache.get(key);
    return entry && isFresh(entry, nowMs) ? structuredClone(entry) : undefined;
  }

  async putCached(entry: CacheEntry): Promise<void> {
    this.cache.set(entry.key, structuredClone(entry));
  }

  async listCached(): Promise<CacheEntrySummary[]> {
    return [...this.cache.values()].map(cacheSummary).sort(byKey);
  }

  async deleteCached(key: string): Promise<boolean> {
    return this.cache.delete(key);
  }

  async clearCached(): Promise<number> {
    const count = this.cache.size;
    this.cache.clear();
    return count;
  }
}

/** `steps` as a journal line would give them back. */
function encoded(steps: readonly CheckpointStep[], checkpointMs: number): CheckpointStep[] {
  return decodeA3sJournal(encodeA3sJournalLine(steps, checkpointMs)).batches[0]?.steps ?? [];
}
