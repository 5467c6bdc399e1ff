/**
 * What a batch run's puts (./outcome-puts) say about the worker kills it went
 * through (./batch-crash): which steps ran again and how long before its
 * worker's kill each had finished, and how soon after each kill steps
 * settled again, first one and then at the run's pace.
 */
import type { Put } from './outcome-puts';

/** A worker the run SIGKILLed, and what followed. */
export interface Killed {
  pid: number;
  /** Wall-clock ms of the SIGKILL, the puts' clock. */
  atMs: number;
  planned: string;
  /** Steps with an outcome put by then. */
  settled: number;
  /** From the SIGKILL to the replacement worker polling. */
  replacementMs: number;
}

export interface Kill extends Omit<Killed, 'pid'> {
  /** From the SIGKILL to the first put stamped after it (by another worker). */
  firstPutMs: number;
  /** From the SIGKILL to the moment from which a second holds half the run's median puts a second. */
  atPaceMs: number;
  /** Steps the killed worker had put that ran again. */
  reRuns: number;
  /** The longest of their gaps (put to kill). */
  maxGapMs: number;
}

/** A step put again, by the put before: which worker made it and how long before that worker's kill. */
export interface ReRun {
  seq: number;
  pid: number;
  /** Undefined when the worker was never killed: no kill explains it. */
  gapMs: number | undefined;
}

/** Each put before a step's last, with its gap to its worker's kill; and how many steps were put more than once. */
function reRunsOf(all: readonly Put[], killed: readonly Killed[]): { steps: number; reRuns: ReRun[] } {
  const killedAt = new Map(killed.map((kill) => [kill.pid, kill.atMs]));
  const sorted = [...all].sort((a, b) => a.seq - b.seq || a.ms - b.ms);
  const reRuns: ReRun[] = [];
  let steps = 0;
  for (let first = 0, end = 0; first < sorted.length; first = end) {
    while (end < sorted.length && sorted[end]!.seq === sorted[first]!.seq) end++;
    if (end - first > 1) steps += 1;
    for (const { seq, ms, pid } of sorted.slice(first, end - 1)) {
      const at = killedAt.get(pid);
      reRuns.push({ seq, pid, gapMs: at === undefined ? undefined : at - ms });
    }
  }
  return { steps, reRuns };
}

/** Puts stamped in each second from `begin`. */
function perSecond(stamps: readonly number[], begin: number): number[] {
  const counts: number[] = [];
  for (const ms of stamps) {
    const second = Math.floor((ms - begin) / 1000);
    while (counts.length <= second) counts.push(0);
    counts[second]! += 1;
  }
  return counts;
}

/** The first stamp after `atMs` from which the next second holds at least `puts` puts (`stamps` ascending). */
function paceAfter(stamps: readonly number[], atMs: number, puts: number): number {
  let end = 0;
  for (let first = 0; first < stamps.length; first++) {
    if (stamps[first]! <= atMs) continue;
    end = Math.max(end, first);
    while (end < stamps.length && stamps[end]! < stamps[first]! + 1000) end++;
    if (end - first >= puts) return stamps[first]!;
  }
  return Infinity;
}

const maxOf = (values: number[]) => values.reduce((a, b) => Math.max(a, b), 0);

/**
 * Re-runs (beyond the window: longer than `windowMs` before their worker's
 * kill, or by a worker never killed), each kill's aftermath, and the puts of
 * each second from `begin`.
 */
export function crashPuts(all: readonly Put[], killed: readonly Killed[], begin: number, windowMs: number) {
  const { steps: reRunSteps, reRuns } = reRunsOf(all, killed);
  const gaps = (of: ReRun[]) => of.flatMap(({ gapMs }) => (gapMs === undefined ? [] : [gapMs]));
  const stamps = all.map(({ ms }) => ms).sort((a, b) => a - b);
  const putsPerSecond = perSecond(stamps, begin);
  const busy = putsPerSecond.slice(Math.floor((stamps[0]! - begin) / 1000)).sort((a, b) => a - b);
  const halfPace = Math.max(1, busy[Math.floor(busy.length / 2)]! / 2);
  const kills: Kill[] = killed.map(({ pid, atMs, ...kill }) => {
    const mine = reRuns.filter((reRun) => reRun.pid === pid);
    const next = all.reduce(
      (first, put) => (put.pid !== pid && put.ms > atMs ? Math.min(first, put.ms) : first),
      Infinity,
    );
    return {
      ...kill,
      atMs: atMs - begin,
      firstPutMs: next - atMs,
      atPaceMs: paceAfter(stamps, atMs, halfPace) - atMs,
      reRuns: mine.length,
      maxGapMs: maxOf(gaps(mine)),
    };
  });
  return {
    kills,
    reRunSteps,
    reRuns,
    maxGapMs: maxOf(gaps(reRuns)),
    beyondWindow: reRuns.filter(({ gapMs }) => gapMs === undefined || gapMs > windowMs),
    halfPace,
    putsPerSecond,
  };
}
