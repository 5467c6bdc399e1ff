import { isCancellation } from '@temporalio/workflow';

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
  let cancelled: { error: unknown } | undefined;
  const results = await Promise.all(
    items.map((item, index) =>
      task(item, index).then(
        (value): Settled<O> => ({ ok: true, value }),
        (error: unknown): Settled<O> => {
          if (isCancellation(error)) cancelled ??= { error };
          return { ok: false, error };
        },
      ),
    ),
  );
  if (cancelled) throw cancelled.error;
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
