/**
 * Seeded kills at moments no code chooses: from a seed (mulberry32), N kill
 * points, each "after the k-th observed activity of the run (a model request
 * arriving, a step's program starting), plus a random delay shorter than that
 * activity's span". The worker process is SIGKILLed there and a replacement
 * started at once. The same seed gives the same points, so a failure is
 * replayed by its seed, which every failure message names (`namingSeed`).
 *
 * An activity count only grows while a worker runs the step, so each kill hits
 * a worker in the middle of the run's work; a kill that comes after the work
 * ended (the delay outlived the last activity) catches no step in flight.
 *
 * The at-least-once window these tests hold a run to (the rule instant-resume
 * and llm-resume count as `redone`): a kill may make each step it caught in
 * flight do one thing again, the one thing whose result was not yet durable:
 * for an llm step one model request or one tool call, for a `command` step the
 * whole step. Nothing else runs twice, and a step the server had recorded
 * finished at a kill never starts again.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { seededRandom } from '../../scripts/bench/workload';
import { stepActivities } from './history';
import { SideEffects } from './side-effect-log';
import type { WorkerProcess } from './worker-process';

export interface KillPoint {
  /** Kill once this many activities have been observed (1-based, cumulative over the run, replacements included)… */
  afterActivity: number;
  /** …and this many ms after the one that reached it. */
  delayMs: number;
}

export interface KillSchedule {
  seed: number;
  points: KillPoint[];
}

/**
 * `kills` points on distinct activities among the first `activities`, in
 * order, each with a delay in [0, maxDelayMs).
 */
export function killSchedule(
  seed: number,
  options: { kills: number; activities: number; maxDelayMs: number },
): KillSchedule {
  const random = seededRandom(seed);
  const candidates = Array.from({ length: options.activities }, (_, i) => i + 1);
  const chosen: number[] = [];
  for (let k = 0; k < Math.min(options.kills, candidates.length); k++)
    chosen.push(candidates.splice(Math.floor(random() * candidates.length), 1)[0]!);
  return {
    seed,
    points: chosen
      .sort((a, b) => a - b)
      .map((afterActivity) => ({ afterActivity, delayMs: Math.floor(random() * options.maxDelayMs) })),
  };
}

export const describeSchedule = (schedule: KillSchedule) =>
  `seed ${schedule.seed}: kills ${schedule.points.map((p) => `${p.afterActivity}+${p.delayMs}ms`).join(', ')}`;

export interface Kill {
  point: KillPoint;
  /** Activities observed when the SIGKILL landed. */
  atActivity: number;
  /** The steps the server had recorded finished once the killed worker was gone, and how often each had started by then. */
  finished: Map<string, number>;
  /** Steps with an open activity that a worker had started (side-effect log): what the kill caught in flight. */
  inFlight: string[];
}

export interface KillTarget {
  /** Activities of the run observed so far. */
  activities(): number;
  first: WorkerProcess;
  startReplacement(): Promise<WorkerProcess>;
  handle: WorkflowHandle;
  /** The side-effect log every worker of the run appends each step's start to (side-effect-log.ts). */
  logFile: string;
}

/** How long a kill point may wait for its activity: a failure bound, never reached by a healthy run. */
const ACTIVITY_DEADLINE_MS = 60_000;

/**
 * Follows `schedule` against a running `target`: waits for each point's
 * activity, then its delay, SIGKILLs the current worker, reads what the server
 * has finished and starts a replacement. Returns the kills and the worker
 * left running. A point whose activity never comes because the run finished
 * first is skipped (not a kill).
 */
export async function followSchedule(
  schedule: KillSchedule,
  target: KillTarget,
): Promise<{ kills: Kill[]; worker: WorkerProcess }> {
  let worker = target.first;
  let finished = false;
  void target.handle.result().then(
    () => (finished = true),
    () => (finished = true),
  );
  const kills: Kill[] = [];
  for (const point of schedule.points) {
    const deadline = Date.now() + ACTIVITY_DEADLINE_MS;
    while (target.activities() < point.afterActivity && !finished) {
      if (Date.now() > deadline)
        throw new Error(
          `${describeSchedule(schedule)}: activity ${point.afterActivity} not seen within ${ACTIVITY_DEADLINE_MS} ms (${target.activities()} seen)`,
        );
      // Polling only to notice the activity; the kill moment is the delay below, which the seed chose.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    if (finished) break;
    // The delay is the randomness itself (where in the activity's span the kill falls), not a wait for anything.
    await new Promise((resolve) => setTimeout(resolve, point.delayMs));
    const atActivity = target.activities();
    await worker.kill();
    // Read from history once the worker is dead, so nothing it does can change the answer afterwards.
    const steps = await stepActivities(target.handle);
    const log = SideEffects.read(target.logFile);
    kills.push({
      point,
      atActivity,
      finished: new Map(steps.finished.map((id) => [id, log.starts(id).length])),
      // An open activity some worker started (a scheduled one nobody picked up has nothing in flight).
      inFlight: steps.open.filter((id) => log.starts(id).length > 0),
    });
    worker = await target.startReplacement();
  }
  return { kills, worker };
}

/** Runs `body`, prefixing any failure's message with `seed` (a seed, or a schedule: its seed and kill points), so every assertion names the seed. */
export async function namingSeed<T>(seed: number | KillSchedule, body: () => T | Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    const name = typeof seed === 'number' ? `seed ${seed}` : describeSchedule(seed);
    if (error instanceof Error) error.message = `${name}\n${error.message}`;
    throw error;
  }
}

/** What the kills allow to run again: one thing per step each kill caught in flight. */
export const redoAllowance = (kills: readonly Kill[]) => kills.reduce((sum, k) => sum + k.inFlight.length, 0);

/** Steps the server had recorded finished at some kill that started again afterwards (must be none). */
export function finishedStepsRunAgain(kills: readonly Kill[], logFile: string): string[] {
  const log = SideEffects.read(logFile);
  const again = new Set<string>();
  for (const kill of kills)
    for (const [id, starts] of kill.finished) if (log.starts(id).length > starts) again.add(id);
  return [...again];
}
