/** The liveness watchdog on its own, on jest's fake clock: what counts is progress, not time alone. */
import { StallWatchdog, StepStalledError } from '../../src/activities/stall-watchdog';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

const STEP = 'step "t1" (agent explore)';

test('progress within the limit keeps the step alive however long it runs; silence for the limit stalls it', async () => {
  const watchdog = new StallWatchdog(1_000, STEP);
  watchdog.start();
  for (let i = 0; i < 10; i++) {
    jest.advanceTimersByTime(900);
    watchdog.progress('output');
  }
  expect(watchdog.signal.aborted).toBe(false);
  jest.advanceTimersByTime(1_000);
  expect(watchdog.signal.aborted).toBe(true);
  const reason = watchdog.signal.reason as StepStalledError;
  expect(reason).toBeInstanceOf(StepStalledError);
  expect(reason.message).toBe(
    `${STEP} stalled: no progress from its executor for 1 s (last progress: output), over the 1 s stall limit; the attempt is retried. If the step is just slow, raise stallTimeoutMs: the step spec's, its agent's in a command config, or the worker's (--stall-timeout-ms, env TAO_STALL_TIMEOUT_MS, or the createTaoWorker/TaoPlugin option)`,
  );
  await expect(watchdog.stalled).rejects.toBe(reason);
});

test('a step that never reported anything says so', () => {
  const watchdog = new StallWatchdog(2_500, STEP);
  watchdog.start();
  jest.advanceTimersByTime(2_500);
  expect((watchdog.signal.reason as Error).message).toContain(
    'no progress from its executor for 2.5 s (none since the attempt began)',
  );
});

test('it never fires before start or after stop', () => {
  const watchdog = new StallWatchdog(100, STEP);
  jest.advanceTimersByTime(1_000);
  expect(watchdog.signal.aborted).toBe(false);
  watchdog.start();
  watchdog.stop();
  jest.advanceTimersByTime(1_000);
  expect(watchdog.signal.aborted).toBe(false);
  expect(jest.getTimerCount()).toBe(0);
});

test("its signal is the attempt's one signal: the activity's cancellation aborts it with its reason and stops the watchdog", () => {
  const activity = new AbortController();
  const watchdog = new StallWatchdog(1_000, STEP, activity.signal);
  watchdog.start();
  const cancelled = new Error('the activity was cancelled');
  activity.abort(cancelled);
  expect(watchdog.signal.aborted).toBe(true);
  expect(watchdog.signal.reason).toBe(cancelled);
  expect(jest.getTimerCount()).toBe(0);

  const already = new AbortController();
  already.abort(cancelled);
  const late = new StallWatchdog(1_000, STEP, already.signal);
  late.start();
  expect(late.signal.reason).toBe(cancelled);
  expect(jest.getTimerCount()).toBe(0);
});
