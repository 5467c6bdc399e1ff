/**
 * The memory store's transcripts: each step's events as the JSON lines the
 * other stores keep, so what reads back here reads back there. Appends check
 * and write with no await between them: numbering is atomic within the process.
 */
import {
  type Transcript,
  type TranscriptKey,
  type TranscriptStore,
  type TranscriptSummary,
  type UnnumberedEvent,
  checkTranscriptKey,
  keepWithinStepLimit,
  eventsAfter,
} from '../transcripts/events';

interface Held {
  lines: string[];
  bytes: number;
  updatedMs: number;
}

export class MemoryTranscripts implements TranscriptStore {
  /** By workflow id, then task id. */
  private readonly held = new Map<string, Map<string, Held>>();

  async appendTranscript(key: TranscriptKey, events: readonly UnnumberedEvent[]): Promise<number> {
    const { workflowId, taskId } = checkTranscriptKey(key);
    const steps = this.held.get(workflowId) ?? new Map<string, Held>();
    const step = steps.get(taskId) ?? { lines: [], bytes: 0, updatedMs: 0 };
    const { kept, bytes, dropped } = keepWithinStepLimit(step.bytes, events);
    step.lines.push(...kept.map(({ json }) => json));
    step.bytes = bytes;
    step.updatedMs = Date.now();
    steps.set(taskId, step);
    this.held.set(workflowId, steps);
    return dropped;
  }

  async readTranscript(key: TranscriptKey, afterSeq = 0): Promise<Transcript | undefined> {
    const { workflowId, taskId } = checkTranscriptKey(key);
    const step = this.held.get(workflowId)?.get(taskId);
    if (!step) return undefined;
    return { workflowId, taskId, events: eventsAfter(step.lines, afterSeq), lastSeq: step.lines.length };
  }

  async deleteTranscripts(workflowId: string, taskId?: string): Promise<number> {
    const steps = this.held.get(workflowId);
    if (!steps) return 0;
    if (taskId === undefined) {
      this.held.delete(workflowId);
      return steps.size;
    }
    const removed = steps.delete(taskId) ? 1 : 0;
    if (steps.size === 0) this.held.delete(workflowId);
    return removed;
  }

  async listTranscripts(): Promise<TranscriptSummary[]> {
    return [...this.held].flatMap(([workflowId, steps]) =>
      [...steps].map(([taskId, { bytes, updatedMs }]) => ({
        workflowId,
        taskId,
        lastEventMs: updatedMs,
        bytes,
      })),
    );
  }
}
