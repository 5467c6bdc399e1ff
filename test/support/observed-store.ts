import { MemorySessionStore } from '../../src/stores/memory-store';
import type { AppendResult, CheckpointAppend } from '../../src/stores/session-store';

/**
 * A memory store whose appends take uneven time and are recorded in the order
 * they land, with every step the checkpoint then holds. If the journal ever
 * let two appends overlap, the slower, older one would land last; the record shows it.
 */
export class ObservedStore extends MemorySessionStore {
  readonly landed: { checkpointId: string; taskIds: string[]; result: AppendResult }[] = [];
  inFlight = 0;
  peakInFlight = 0;
  private calls = 0;
  private hold?: { until: Promise<void>; release: () => void };

  /** Appends from now on wait for {@link releaseAppends}: a test can keep a save in flight. */
  holdAppends(): void {
    let release = () => {};
    const until = new Promise<void>((resolve) => (release = resolve));
    this.hold = { until, release };
  }

  releaseAppends(): void {
    this.hold?.release();
    this.hold = undefined;
  }

  override async append(checkpointId: string, append: CheckpointAppend): Promise<AppendResult> {
    this.peakInFlight = Math.max(this.peakInFlight, ++this.inFlight);
    await this.hold?.until;
    // Earlier calls are slower, so overlapping appends would land out of order.
    const delayMs = [120, 80, 40, 10][this.calls++ % 4]!;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    try {
      const result = await super.append(checkpointId, append);
      const held = (await this.load(checkpointId))?.steps ?? [];
      this.landed.push({ checkpointId, taskIds: held.map((s) => s.taskId), result });
      return result;
    } finally {
      this.inFlight--;
    }
  }
}
