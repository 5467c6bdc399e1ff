import { CancellationScope, isCancellation } from '@temporalio/workflow';
import type { Grant, RunSlots, Want } from './slots';

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** SPEC: a limit of 0 (or less) runs serially; it must never deadlock on zero permits. */
export function clampLimit(limit: number): number {
  return Math.max(1, Math.floor(limit));
}

/**
 * Runs `task` over every item at once and returns one settled result per
 * item, in input order, once all have settled. A task's error settles only
 * its own item; a cancellation (of the workflow) is rethrown once every task
 * has settled, so no step is left running unseen. How many activities run at
 * once is the run's slots' business (./slots), not this function's.
 */
export async function settleAll<I, O>(
  items: readonly I[],
  task: (item: I, index: number) => Promise<O>,
): Promise<Settled<O>[]> {
  return unlessCancelled(await Promise.all(items.map((item, index) => settle(task(item, index)))));
}

/**
 * {@link settleAll} for items that queue for the run's slots (see
 * {@link startQueued}): one settled result per item, in input order, once
 * all have settled.
 */
export async function settleQueued<I, O>(
  slots: RunSlots,
  items: readonly I[],
  want: (item: I, index: number) => Want | undefined,
  task: (item: I, index: number, scope: CancellationScope, grant?: Grant) => Promise<O>,
): Promise<Settled<O>[]> {
  const results = new Array<Settled<O>>(items.length);
  if (items.length > 0) {
    await new Promise<void>((resolve) => {
      let left = items.length;
      startQueued(slots, items, want, task, (index, result) => {
        results[index] = result;
        if (--left === 0) resolve();
      });
    });
  }
  return unlessCancelled(results);
}

/**
 * Starts `task` for every item and hands each one's settled result to
 * `done`: an item with a `want` starts only once that slot is decided
 * (`task` gets the grant), so thousands of queued items (a few hundred
 * agents' delegated tasks, a batch's pages read ahead) cost one queue entry,
 * not a promise chain each, and an activation's cost does not grow with
 * them. An item without a want starts at once. A granted task starts in
 * whichever cancellation scope dispatched the grant: `task` gets the
 * caller's, to run in.
 */
export function startQueued<I, O>(
  slots: RunSlots,
  items: readonly I[],
  want: (item: I, index: number) => Want | undefined,
  task: (item: I, index: number, scope: CancellationScope, grant?: Grant) => Promise<O>,
  done: (index: number, result: Settled<O>) => void,
): void {
  const scope = CancellationScope.current();
  const start = (index: number, grant?: Grant) =>
    void task(items[index]!, index, scope, grant).then(
      (value) => done(index, { ok: true, value }),
      (error: unknown) => done(index, { ok: false, error }),
    );
  // In input order, as each would start alone: the first to find no slot queues, and every later want behind it.
  const queued: number[] = [];
  const wants: Want[] = [];
  items.forEach((item, index) => {
    const wanted = want(item, index);
    const now = wanted && wants.length === 0 ? slots.tryTake(wanted) : undefined;
    if (!wanted || now !== undefined) return start(index, now);
    queued.push(index);
    wants.push(wanted);
  });
  slots.takeEach(
    wants,
    (at, grant) => start(queued[at]!, grant),
    (at, error) => done(queued[at]!, { ok: false, error }),
  );
}

const settle = <O>(promise: Promise<O>): Promise<Settled<O>> =>
  promise.then(
    (value): Settled<O> => ({ ok: true, value }),
    (error: unknown): Settled<O> => ({ ok: false, error }),
  );

/** The results, or the first cancellation among them, rethrown once every item has settled. */
function unlessCancelled<O>(results: Settled<O>[]): Settled<O>[] {
  const cancelled = results.find((result) => !result.ok && isCancellation(result.error));
  if (cancelled && !cancelled.ok) throw cancelled.error;
  return results;
}

/**
 * Runs `task` over `items`, at most `limit` at a time, in order, and returns
 * one settled result per item in input order. Lanes each pull the next index;
 * in workflow code promise resolution order is recorded in history, so the
 * schedule replays identically. A cancellation propagates once the lanes stop.
 */
export async function runBounded<I, O>(
  items: readonly I[],
  limit: number,
  task: (item: I, index: number) => Promise<O>,
): Promise<Settled<O>[]> {
  const results = new Array<Settled<O>>(items.length);
  let next = 0;
  let stopped: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (next < items.length && !stopped) {
      const index = next++;
      try {
        results[index] = { ok: true, value: await task(items[index] as I, index) };
      } catch (error) {
        if (isCancellation(error)) stopped ??= { error };
        results[index] = { ok: false, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(clampLimit(limit), items.length) }, lane));
  if (stopped) throw stopped.error;
  return results;
}
