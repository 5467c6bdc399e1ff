/**
 * `npm run bench -- --only chaos [--chaos-seeds 20]`: the chaos test's runs
 * (test/support/chaos-runs.ts) for many seeds, each seed one run (an llm step
 * on the file store, the same on PostgreSQL, a delegation, `command` steps, in
 * turn) whose worker processes are SIGKILLed on that seed's schedule
 * (test/support/kill-schedule.ts), judged by the test's rule. Duplicates
 * beyond the at-least-once window, lost side effects, finished steps run
 * again and outcomes unlike a clean run's must all be 0.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Client } from '@temporalio/client';
import {
  type ChaosOptions,
  type ChaosRun,
  chaosCommandSteps,
  chaosDelegation,
  chaosLlmStep,
} from '../../test/support/chaos-runs';
import { describeSchedule } from '../../test/support/kill-schedule';
import { startPostgres } from '../../test/support/postgres';
import { seededRandom } from './workload';

/** Kill points per run, as the test has them. */
const KILLS = 2;

export interface ChaosSeed {
  seed: number;
  scenario: string;
  schedule: string;
  kills: number;
  /** Kills that caught a step in flight. */
  killsInsideWork: number;
  redone: number;
  allowance: number;
  /** What broke the rule; empty when the run held it. */
  broken: string[];
}

export interface ChaosFigures {
  runs: number;
  kills: number;
  killsInsideWork: number;
  /** Things done again within the window (allowed). */
  redone: number;
  /** Model requests, tool calls or steps done again beyond the window. */
  duplicated: number;
  lostSideEffects: number;
  finishedStepsRunAgain: number;
  wrongOutcomes: number;
  seeds: ChaosSeed[];
}

/** `count` seeds drawn from `seed`, so a bench run names and replays every one. */
export const chaosSeeds = (seed: number, count: number) => {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => Math.floor(random() * 2 ** 31));
};

function judged(run: ChaosRun): ChaosSeed {
  const broken = [
    ...(isDeepStrictEqual(run.outcome, run.expected) ? [] : [`outcome ${JSON.stringify(run.outcome)}`]),
    ...run.lost.map((what) => `lost ${what}`),
    ...run.finishedRunAgain.map((id) => `finished step ${id} ran again`),
    ...(run.redone > run.allowance ? [`redone ${run.redone} > allowed ${run.allowance}`] : []),
    ...(run.redone < 0 ? [`${-run.redone} fewer requests or steps than a clean run`] : []),
  ];
  return {
    seed: run.schedule.seed,
    scenario: run.scenario,
    schedule: describeSchedule(run.schedule),
    kills: run.kills.length,
    killsInsideWork: run.kills.filter((k) => k.inFlight.length > 0).length,
    redone: run.redone,
    allowance: run.allowance,
    broken,
  };
}

export async function chaos(client: Client, seeds: number[]): Promise<ChaosFigures> {
  const pg = await startPostgres();
  try {
    const scenarios: ((options: ChaosOptions) => Promise<ChaosRun>)[] = [
      chaosLlmStep,
      (options) => chaosLlmStep({ ...options, storeRef: pg.url }),
      chaosDelegation,
      chaosCommandSteps,
    ];
    const runs: ChaosSeed[] = [];
    for (const [i, seed] of seeds.entries()) {
      const run = judged(await scenarios[i % scenarios.length]!({ client, seed, kills: KILLS }));
      console.error(
        `chaos ${i + 1}/${seeds.length}: ${run.scenario}, ${run.schedule}: redone ${run.redone} (allowed ${run.allowance})${run.broken.length ? `; BROKEN: ${run.broken.join('; ')}` : ''}`,
      );
      runs.push(run);
    }
    const sum = (of: (run: ChaosSeed) => number) => runs.reduce((total, run) => total + of(run), 0);
    const broken = (prefix: string) => sum((run) => run.broken.filter((b) => b.startsWith(prefix)).length);
    return {
      runs: runs.length,
      kills: sum((run) => run.kills),
      killsInsideWork: sum((run) => run.killsInsideWork),
      redone: sum((run) => run.redone),
      duplicated: sum((run) => Math.max(0, run.redone - run.allowance)),
      lostSideEffects: broken('lost '),
      finishedStepsRunAgain: broken('finished step '),
      wrongOutcomes: broken('outcome '),
      seeds: runs,
    };
  } finally {
    pg.destroy();
  }
}
