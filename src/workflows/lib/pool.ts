import { CancellationScope, isCancellation } from '@temporalio/workflow';
import { cancelledAlone, runControls, waitFor } from './controls';

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** SPEC: a limit of 0 (or less) runs serially; it must never deadlock on zero permits. */
export function clampLimit(limit: number): number {
  return Math.max(1, Math.floor(limit));
}

/**
 * Runs `task` over `items`, at most `limit` at a time, and returns one settled
 * result per item in input order. Lanes each pull the next index; in workflow
 * code promise resolution order is recorded in history, so the schedule
 * replays identically. A task's error settles only its own slot; cancellation
 * of the workflow is the one error that propagates.
 *
 * Unless `fixed`, the run's `setConcurrency` replaces `limit` as it changes:
 * raising it starts more lanes at once, lowering it makes lanes wait their turn.
 *
 * Each lane runs in a cancellation scope of its own, and a step's activity
 * runs in its lane's scope (./steps), so `cancelStep` can cancel one running
 * step alone. A lane whose scope was cancelled that way goes on in a fresh one.
 */
export async function runBounded<I, O>(
  items: readonly I[],
  limit: number,
  task: (item: I, index: number) => Promise<O>,
  { fixed = false }: { fixed?: boolean } = {},
): Promise<Settled<O>[]> {
  const results = new Array<Settled<O>>(items.length);
  const controls = runControls();
  const limitNow = () => Math.min(clampLimit(fixed ? limit : (controls.concurrency ?? limit)), items.length);
  let next = 0;
  let active = 0;
  // The first cancellation a lane meets; it ends the run.
  let stopped: { error: unknown } | undefined;
  const stop = (error: unknown) => void (stopped ??= { error });

  const lane = async (): Promise<void> => {
    while (next < items.length && !stopped) {
      if (cancelledAlone(CancellationScope.current())) return;
      if (active >= limitNow()) {
        await waitFor(() => active < limitNow() || next >= items.length || stopped !== undefined);
        continue;
      }
      active += 1;
      const index = next++;
      try {
        results[index] = { ok: true, value: await task(items[index] as I, index) };
      } catch (error) {
        if (isCancellation(error)) throw error;
        results[index] = { ok: false, error };
      } finally {
        active -= 1;
      }
    }
  };
  const runLane = (): Promise<void> => {
    const scope = new CancellationScope();
    return scope.run(lane).then(() => (cancelledAlone(scope) ? runLane() : undefined), stop);
  };

  const lanes: Promise<void>[] = [];
  const grow = () => {
    while (lanes.length < limitNow()) lanes.push(runLane());
  };
  grow();
  while (next < items.length && !stopped) {
    await waitFor(() => next >= items.length || lanes.length < limitNow() || stopped !== undefined);
    grow();
  }
  await Promise.all(lanes);
  if (stopped) throw stopped.error;
  return results;
}
