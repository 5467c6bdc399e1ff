/**
 * Crash tests at moments no code chooses (issue #36): each run's worker
 * process is SIGKILLed on a seeded schedule (kill-schedule.ts), each kill a
 * random delay after a random observed activity of the run (a model request
 * arriving, a step's program starting), and a replacement started at once.
 * Runs: an llm step with `run_shell` and an MCP tool (file store and
 * PostgreSQL), a delegating lead agent, and `command` steps (chaos-runs.ts).
 *
 * After each run: the outcome equals a run without kills; nothing a clean
 * run does is missing; no step the server had recorded complete at a kill
 * starts again; and what was done again stays within the at-least-once window
 * instant-resume and llm-resume count as `redone`: each kill may make each step
 * it caught in flight do one thing again (one model request or one tool call
 * of an llm step, the whole of a `command` step), nothing more. Every failure
 * message starts with the seed and its kill points; `npm run bench -- --only
 * chaos` runs many more seeds.
 */
import {
  type ChaosOptions,
  type ChaosRun,
  chaosCommandSteps,
  chaosDelegation,
  chaosLlmStep,
} from '../support/chaos-runs';
import { describeSchedule, killSchedule, namingSeed } from '../support/kill-schedule';
import { type TestPostgres, startPostgres } from '../support/postgres';
import { closeDevClient, devClient } from '../support/temporal';
import { stopWorkerProcesses } from '../support/worker-process';

afterAll(async () => {
  await stopWorkerProcesses();
  await closeDevClient();
});

const KILLS = 2;

/** The assertions every run is held to, each failure prefixed with the run's seed by `namingSeed`. */
function expectSurvived(run: ChaosRun): void {
  // What the kills hit, so a run can be aimed at again.
  console.log(
    `${run.scenario}, ${describeSchedule(run.schedule)}: ${run.kills.length} kills, ${run.kills.filter((k) => k.inFlight.length).length} inside the work, redone ${run.redone} (allowed ${run.allowance})`,
  );
  // Not vacuous: the seeds here put a kill early in the work, where it always catches a step in flight.
  expect(run.kills.filter((k) => k.inFlight.length).length).toBeGreaterThan(0);
  expect(run.outcome).toEqual(run.expected);
  expect(run.lost).toEqual([]);
  expect(run.finishedRunAgain).toEqual([]);
  expect(run.redone).toBeGreaterThanOrEqual(0);
  expect(run.redone).toBeLessThanOrEqual(run.allowance);
}

async function survives(
  chaos: (options: ChaosOptions) => Promise<ChaosRun>,
  seed: number,
  storeRef?: string,
): Promise<void> {
  // A run that throws names its seed; a run that ends is judged under its seed and kill points.
  const run = await namingSeed(seed, async () =>
    chaos({ client: await devClient(), seed, kills: KILLS, ...(storeRef ? { storeRef } : {}) }),
  );
  await namingSeed(run.schedule, () => expectSurvived(run));
}

test('a seed gives the same kill points: distinct activities in order, delays within the span', () => {
  const points = (seed: number) => killSchedule(seed, { kills: 3, activities: 10, maxDelayMs: 60 }).points;
  expect(points(7)).toEqual(points(7));
  expect(points(7)).not.toEqual(points(8));
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const activities = points(seed).map((p) => p.afterActivity);
    expect(activities).toEqual([...new Set(activities)].sort((a, b) => a - b));
    expect(activities.every((a) => a >= 1 && a <= 10)).toBe(true);
    expect(points(seed).every((p) => p.delayMs >= 0 && p.delayMs < 60)).toBe(true);
  }
});

describe('an llm step with run_shell and an MCP tool, killed at seeded moments', () => {
  test.each([1, 2])('file store, seed %i', (seed) => survives(chaosLlmStep, seed), 60_000);

  describe('PostgreSQL store', () => {
    let pg: TestPostgres;
    beforeAll(async () => {
      pg = await startPostgres();
    }, 60_000);
    afterAll(() => pg?.destroy());

    test.each([3])('seed %i', (seed) => survives(chaosLlmStep, seed, pg.url), 60_000);
  });
});

test.each([4])(
  'a delegating lead agent killed at seeded moments, seed %i',
  (seed) => survives(chaosDelegation, seed),
  60_000,
);

test.each([5, 6])(
  'command steps killed at seeded moments, seed %i',
  (seed) => survives(chaosCommandSteps, seed),
  60_000,
);
