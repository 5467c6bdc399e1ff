/** The heartbeat reporter on its own, on jest's fake clock: what each beat carries, and when output beats. */
import { HeartbeatReporter, beatInterval } from '../../src/activities/heartbeat-reporter';
import type { StepHeartbeat } from '../../src/activities/heartbeat';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

function reporter(everyMs = 1_000) {
  const beats: StepHeartbeat[] = [];
  // A beat's details are sent as they are at that moment: copy them, as the data converter would.
  const unit = new HeartbeatReporter((beat) => beats.push(structuredClone(beat)), 't1', everyMs);
  return { unit, beats };
}

test('the ticker repeats the state the attempt resumed from until a newer one is saved, then carries that', () => {
  const { unit, beats } = reporter();
  unit.resumeFrom({ state: { turn: 3 }, seq: 3 });
  unit.start();
  jest.advanceTimersByTime(2_000);
  expect(beats).toEqual([
    { taskId: 't1', resume: { turn: 3 }, seq: 3 },
    { taskId: 't1', resume: { turn: 3 }, seq: 3 },
  ]);
  unit.saved({ turn: 4 }, 4);
  unit.info({ round: 4 });
  expect(beats.at(-1)).toEqual({ taskId: 't1', resume: { turn: 4 }, seq: 4, info: { round: 4 } });
  unit.stop();
  jest.advanceTimersByTime(5_000);
  expect(beats).toHaveLength(4);
});

test('output after a quiet spell beats at once; a burst after it goes in one beat at the interval end', () => {
  const { unit, beats } = reporter(60_000);
  unit.output('a');
  expect(beats.map((b) => b.output)).toEqual(['a']);
  unit.output('ab');
  unit.output('abc');
  expect(beats).toHaveLength(1);
  jest.advanceTimersByTime(500);
  expect(beats.map((b) => b.output)).toEqual(['a', 'abc']);
  unit.stop();
});

test('the beat interval is a third of the heartbeat timeout, with a floor and a fallback', () => {
  expect(beatInterval(7_000)).toBe(2_333);
  expect(beatInterval(90)).toBe(100);
  expect(beatInterval(undefined)).toBe(5_000);
});
