import type { WorkflowCheckpoint } from '../../src/contracts';
import { MemorySessionStore } from '../../src/stores/memory-store';
import type { SaveResult } from '../../src/stores/session-store';

/**
 * A memory store whose saves take uneven time and are recorded in the order
 * they land. If the journal ever let two saves overlap, the slower, older one
 * would land last; the record shows it.
 */
export class ObservedStore extends MemorySessionStore {
  readonly landed: { checkpointId: string; taskIds: string[]; result: SaveResult }[] = [];
  inFlight = 0;
  peakInFlight = 0;
  private calls = 0;

  override async save(checkpointId: string, checkpoint: WorkflowCheckpoint): Promise<SaveResult> {
    this.peakInFlight = Math.max(this.peakInFlight, ++this.inFlight);
    // Earlier calls are slower, so overlapping saves would land out of order.
    const delayMs = [120, 80, 40, 10][this.calls++ % 4]!;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    try {
      const result = await super.save(checkpointId, checkpoint);
      this.landed.push({ checkpointId, taskIds: checkpoint.steps.map((s) => s.taskId), result });
      return result;
    } finally {
      this.inFlight--;
    }
  }
}
