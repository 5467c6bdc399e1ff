import { type StepOutcome, StepOutcomeSchema } from '../contracts';
import type { OutcomePage, OutcomeRun, OutcomeStore, SeqOutcome } from './outcome-store';
import { checkedPut, pageBounds } from './outcome-store';

interface Kept {
  /** Each outcome as JSON, as the other backends keep it, so a caller's object is never shared. */
  outcomes: Map<number, string>;
  writtenMs: number;
}

/**
 * Process-local outcomes, for tests and `tao dev` with the memory store. It
 * holds every outcome of every run (it is the memory), and a page sorts the
 * run's places: made for runs a process can hold, not for a million steps.
 */
export class MemoryOutcomeStore implements OutcomeStore {
  readonly location = 'memory';
  private readonly kept = new Map<string, Kept>();

  async put(run: string, seq: number, outcome: StepOutcome): Promise<void> {
    const checked = checkedPut(run, seq, outcome);
    const kept = this.kept.get(run) ?? { outcomes: new Map(), writtenMs: 0 };
    kept.outcomes.set(seq, JSON.stringify(checked));
    kept.writtenMs = Date.now();
    this.kept.set(run, kept);
  }

  async list(run: string, page: OutcomePage): Promise<SeqOutcome[]> {
    const { after, limit, failedOnly } = pageBounds(page);
    const found: SeqOutcome[] = [];
    const seqs = [...(this.kept.get(run)?.outcomes.keys() ?? [])].filter((seq) => seq > after);
    for (const seq of seqs.sort((a, b) => a - b)) {
      const outcome = StepOutcomeSchema.parse(JSON.parse(this.kept.get(run)!.outcomes.get(seq)!));
      if (failedOnly && outcome.success) continue;
      found.push({ seq, outcome });
      if (found.length === limit) break;
    }
    return found;
  }

  async runs(): Promise<OutcomeRun[]> {
    return [...this.kept].map(([run, { outcomes, writtenMs }]) => ({
      run,
      bytes: [...outcomes.values()].reduce((sum, json) => sum + Buffer.byteLength(json), 0),
      writtenMs,
    }));
  }

  async delete(run: string, writtenBeforeMs = Infinity): Promise<boolean> {
    return (this.kept.get(run)?.writtenMs ?? Infinity) < writtenBeforeMs && this.kept.delete(run);
  }
}
