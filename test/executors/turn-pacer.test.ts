/**
 * The pacer that spreads a burst of model requests over event-loop turns: each
 * caller gets a turn of its own, in the order it asked, with timers running
 * between turns.
 */
import { TurnPacer } from '../../src/executors/llm/turn-pacer';

/** Counts event-loop turns: an immediate that sets itself again runs once a turn. */
function turnCounter(): { now(): number; stop(): void } {
  let turns = 0;
  let handle = setImmediate(function tick() {
    turns += 1;
    handle = setImmediate(tick);
  });
  return { now: () => turns, stop: () => clearImmediate(handle) };
}

test('callers that ask together are let through one turn apart, in order', async () => {
  const pacer = new TurnPacer();
  const turns = turnCounter();
  const seen: { caller: number; turn: number }[] = [];
  await Promise.all(
    Array.from({ length: 5 }, (_, caller) =>
      pacer.next().then(() => seen.push({ caller, turn: turns.now() })),
    ),
  );
  turns.stop();
  expect(seen.map((s) => s.caller)).toEqual([0, 1, 2, 3, 4]);
  for (let i = 1; i < seen.length; i++) expect(seen[i]!.turn).toBeGreaterThan(seen[i - 1]!.turn);
});

test('a timer that is due runs within the burst, not after it', async () => {
  const pacer = new TurnPacer();
  const events: string[] = [];
  setTimeout(() => events.push('timer'), 0);
  const callers = Array.from({ length: 50 }, (_, i) => pacer.next().then(() => events.push(`caller ${i}`)));
  // The timer is due before the first turn of the burst is over.
  const due = performance.now() + 5;
  while (performance.now() < due);
  await Promise.all(callers);
  expect(events.indexOf('timer')).toBeGreaterThan(-1);
  expect(events.indexOf('timer')).toBeLessThan(events.indexOf('caller 49'));
  expect(events.filter((e) => e !== 'timer')).toEqual(callers.map((_, i) => `caller ${i}`));
});

test('a caller after a finished burst waits one turn, for no one', async () => {
  const pacer = new TurnPacer();
  await Promise.all([pacer.next(), pacer.next()]);
  const turns = turnCounter();
  await pacer.next();
  const waited = turns.now();
  turns.stop();
  expect(waited).toBe(1);
});
