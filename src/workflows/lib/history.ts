/**
 * When an execution stops taking new steps, decided from what Temporal says
 * of its history rather than from a count of steps: a step that delegates 16
 * tasks writes ten times the events of one that does not, and only history
 * knows. Once it closes, the steps under way finish (their tasks included),
 * and the workflow continues as new with the rest (../index.ts).
 *
 * It closes when the server suggests continuing as new, or when the history
 * plus what the steps in flight are still expected to add would pass
 * {@link HISTORY_EVENTS_CAP} events or {@link HISTORY_BYTES_CAP} bytes. What
 * a step adds is measured: the events and bytes since the execution began,
 * over the top-level steps settled, so a run of delegating agents learns
 * their cost from its first few.
 */
import { workflowInfo } from '@temporalio/workflow';

/** Events one execution may reach: far under Temporal's 51,200 limit, and its warning at 10,240 × 2. */
export const HISTORY_EVENTS_CAP = 18_000;
/** Bytes likewise: Temporal's limit is 50 MB and its warning 10 MB. */
export const HISTORY_BYTES_CAP = 8 * 1024 * 1024;

/** Before any step settled: an activity's three events and a share of the workflow tasks around it. */
const PRIOR_EVENTS_PER_STEP = 12;
const PRIOR_BYTES_PER_STEP = 4 * 1024;

export class HistoryAdmission {
  private closed = false;
  private readonly startEvents: number;
  private readonly startBytes: number;
  private settled = 0;

  constructor(
    /** Top-level steps admitted and not yet settled. */
    private readonly inFlight: () => number,
    /** false: never closes (a combinator called from a user's workflow, whose history its author owns). */
    private readonly enabled: boolean,
  ) {
    const info = workflowInfo();
    this.startEvents = info.historyLength;
    this.startBytes = info.historySize;
  }

  /** One top-level step settled: its cost, tasks included, is now in the history. */
  stepSettled(): void {
    this.settled += 1;
  }

  /** Whether a new top-level step may start in this execution; once not, never again. */
  admits(): boolean {
    if (!this.enabled) return true;
    if (this.closed) return false;
    const info = workflowInfo();
    const pending = this.inFlight() + 1;
    const perStepEvents = this.perStep(info.historyLength - this.startEvents, PRIOR_EVENTS_PER_STEP);
    const perStepBytes = this.perStep(info.historySize - this.startBytes, PRIOR_BYTES_PER_STEP);
    const full =
      info.continueAsNewSuggested ||
      info.historyLength + pending * perStepEvents > HISTORY_EVENTS_CAP ||
      info.historySize + pending * perStepBytes > HISTORY_BYTES_CAP;
    if (full) this.closed = true;
    return !full;
  }

  private perStep(grown: number, prior: number): number {
    return this.settled === 0 ? prior : Math.max(prior, grown / this.settled);
  }
}

/** Between a loop's rounds: whether the execution should continue as new before the next round. */
export function historyFilling(): boolean {
  const info = workflowInfo();
  return (
    info.continueAsNewSuggested ||
    info.historyLength > HISTORY_EVENTS_CAP / 2 ||
    info.historySize > HISTORY_BYTES_CAP / 2
  );
}
