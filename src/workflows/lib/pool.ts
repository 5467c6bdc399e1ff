import { isCancellation } from '@temporalio/workflow';

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** SPEC: a limit of 0 (or less) runs serially; it must never deadlock on zero permits. */
export function clampLimit(limit: number): number {
  return Math.max(1, Math.floor(limit));
}

/**
 * Runs `task` over `items`, at most `limit` at a time, and returns one settled
 * result per item in input order. `limit` lanes each pull the next index; in
 * workflow code promise resolution order is recorded in history, so the
 * schedule replays identically. A task's error settles only its own slot;
 * cancellation of the workflow is the one error that propagates.
 */
export async function runBounded<I, O>(
  items: readonly I[],
  limit: number,
  task: (item: I, index: number) => Promise<O>,
): Promise<Settled<O>[]> {
  const results = new Array<Settled<O>>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { ok: true, value: await task(items[index] as I, index) };
      } catch (error) {
        if (isCancellation(error)) throw error;
        results[index] = { ok: false, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(clampLimit(limit), items.length) }, lane));
  return results;
}
