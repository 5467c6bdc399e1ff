/** The heartbeat reporter on its own, on jest's fake clock: what each beat carries, and when beats go. */
import { type BeatPace, HeartbeatReporter, beatPace } from '../../src/activities/heartbeat-reporter';
import {
  HEARTBEAT_STATE_MAX_BYTES,
  type StepHeartbeat,
  resumePointFrom,
} from '../../src/activities/heartbeat';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

function reporter(pace: BeatPace = { livenessMs: 1_000, economy: false }, storeKeepsStates = false) {
  const beats: StepHeartbeat[] = [];
  // A beat's details are sent as they are at that moment: copy them, as the data converter would.
  const unit = new HeartbeatReporter(
    (beat) => beats.push(structuredClone(beat)),
    't1',
    pace,
    storeKeepsStates,
  );
  return { unit, beats };
}

test('liveness repeats the state the attempt resumed from until a newer one is saved, then carries that', () => {
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

test('a liveness beat goes only after a silence of the liveness interval: news restarts the clock', () => {
  const { unit, beats } = reporter();
  unit.start();
  jest.advanceTimersByTime(900);
  unit.info({ round: 1 });
  jest.advanceTimersByTime(900);
  expect(beats).toHaveLength(1);
  jest.advanceTimersByTime(100);
  expect(beats).toHaveLength(2);
  unit.stop();
});

test('output after a quiet spell beats at once; a burst after it goes in one beat at the interval end', () => {
  const { unit, beats } = reporter({ livenessMs: 60_000, economy: false });
  unit.start();
  unit.output('a');
  expect(beats.map((b) => b.output)).toEqual(['a']);
  unit.output('ab');
  unit.output('abc');
  expect(beats).toHaveLength(1);
  jest.advanceTimersByTime(500);
  expect(beats.map((b) => b.output)).toEqual(['a', 'abc']);
  unit.stop();
});

test('at an economy pace news waits for the next liveness beat, which carries all of it', () => {
  const { unit, beats } = reporter({ livenessMs: 37_500, economy: true });
  unit.start();
  jest.advanceTimersByTime(10_000);
  unit.output('thinking');
  unit.info({ round: 1 });
  unit.saved({ turn: 1 }, 1);
  unit.output('thinking, then more');
  expect(beats).toEqual([]);
  jest.advanceTimersByTime(27_500);
  expect(beats).toEqual([
    { taskId: 't1', output: 'thinking, then more', info: { round: 1 }, resume: { turn: 1 }, seq: 1 },
  ]);
  jest.advanceTimersByTime(37_500 * 4);
  expect(beats).toHaveLength(5);
  unit.stop();
});

test('the pace: a third of the timeout, or half less 5 s for long ones; economy from a minute', () => {
  expect(beatPace(7_000)).toEqual({ livenessMs: 2_333, economy: false });
  expect(beatPace(15_000)).toEqual({ livenessMs: 5_000, economy: false });
  expect(beatPace(30_000)).toEqual({ livenessMs: 12_500, economy: false });
  expect(beatPace(80_000)).toEqual({ livenessMs: 37_500, economy: true });
  expect(beatPace(90)).toEqual({ livenessMs: 100, economy: false });
  expect(beatPace(undefined)).toEqual({ livenessMs: 5_000, economy: false });
});

/** A conversation state whose JSON is just over the largest a beat carries beside a store. */
const large = (turn: number) => ({ turn, text: 'x'.repeat(HEARTBEAT_STATE_MAX_BYTES) });

test('beside a store, a large state is left to it: the beat names it and keeps the last small one', () => {
  const { unit, beats } = reporter(undefined, true);
  unit.saved({ turn: 1 }, 1);
  unit.saved(large(2), 2);
  unit.saved(large(3), 3);
  expect(beats).toEqual([
    { taskId: 't1', resume: { turn: 1 }, seq: 1 },
    { taskId: 't1', resume: { turn: 1 }, seq: 1, storedSeq: 2 },
    { taskId: 't1', resume: { turn: 1 }, seq: 1, storedSeq: 3 },
  ]);
  // A retry reads the store's state (storedSeq is further on), or the small one if the store lost it.
  expect(resumePointFrom(beats.at(-1), 't1')).toEqual({ state: { turn: 1 }, seq: 1, storedSeq: 3 });
  unit.saved({ turn: 4 }, 4);
  expect(beats.at(-1)).toEqual({ taskId: 't1', resume: { turn: 4 }, seq: 4 });
});

test("an attempt resumed from a large stored state keeps the last beat's small state for the next retry", () => {
  const { unit, beats } = reporter(undefined, true);
  unit.resumeFrom({ state: { turn: 1 }, seq: 1, storedSeq: 5 }, { state: large(5), seq: 5 });
  unit.start();
  jest.advanceTimersByTime(1_000);
  expect(beats).toEqual([{ taskId: 't1', resume: { turn: 1 }, seq: 1, storedSeq: 5 }]);
  unit.stop();
});

test('a large state resumed from the last beat (its store lost it, or it had none) rides on', () => {
  const { unit, beats } = reporter(undefined, true);
  unit.resumeFrom({ state: large(5), seq: 5 });
  unit.start();
  jest.advanceTimersByTime(1_000);
  expect(beats).toEqual([{ taskId: 't1', resume: large(5), seq: 5 }]);
  unit.stop();
});

test('without a store, a large state rides in the beat as before', () => {
  const { unit, beats } = reporter();
  unit.saved(large(2), 2);
  expect(beats).toEqual([{ taskId: 't1', resume: large(2), seq: 2 }]);
});

test('a beat with no state but a stored one resumes at seq 0, naming the stored one', () => {
  expect(resumePointFrom({ taskId: 't1', storedSeq: 7 }, 't1')).toEqual({ seq: 0, storedSeq: 7 });
  expect(resumePointFrom({ taskId: 't1', resume: { turn: 7 }, seq: 7, storedSeq: 7 }, 't1')).toEqual({
    state: { turn: 7 },
    seq: 7,
  });
});
