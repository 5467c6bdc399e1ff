/**
 * Issue 4's fleet: three worker processes on one task queue, one shared
 * PostgreSQL checkpoint store, a batch of resumable workflows, and a bounded
 * loop that SIGKILLs a random worker and starts a replacement. Figures go to
 * stdout and `.tao/fault-figures.json`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { StepOutcome } from '../../src/contracts';
import { PostgresSessionStore } from '../../src/stores/postgres-store';
import { taoHome } from '../../src/local/temporal-binaries';
import { seededRandom } from '../../scripts/bench/workload';
import { completedStepIds } from '../support/history';
import { startPostgres, type TestPostgres } from '../support/postgres';
import { SideEffects } from '../support/side-effect-log';
import { echoed, spec } from '../support/specs';
import { useTempDir } from '../support/temp-dir';
import { closeDevClient, devClient, uniqueId } from '../support/temporal';
import { type WorkerProcess, startWorkerProcess, stopWorkerProcesses } from '../support/worker-process';

const WORKFLOWS = 12;
const STEPS = 6;
const KILLS = 4;

let pg: TestPostgres;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await stopWorkerProcesses();
  await closeDevClient();
  pg?.destroy();
});

const dir = useTempDir('tao-fleet');

test('a fleet of workers killed one at a time finishes every run; no completed step runs again', async () => {
  const random = seededRandom(42);
  const started = Date.now();
  const taskIds = (w: number) => Array.from({ length: STEPS }, (_, s) => `w${w}-s${s}`);
  const tasks = Object.fromEntries(
    Array.from({ length: WORKFLOWS }, (_, w) => taskIds(w))
      .flat()
      .map((id) => [id, { delayMs: 300 + Math.round(random() * 1_200) }]),
  );
  const logFile = join(dir(), 'side-effects.log');
  const config = {
    taskQueue: uniqueId('fleet'),
    storeDir: join(dir(), 'unused'),
    storeRef: pg.url,
    logFile,
    script: { concurrency: 8, tasks },
  };
  const workers: WorkerProcess[] = await Promise.all([1, 2, 3].map(() => startWorkerProcess(config)));

  const client = await devClient();
  const checkpointIds = Array.from({ length: WORKFLOWS }, (_, w) => uniqueId(`fleet-${w}`));
  const handles: WorkflowHandle[] = await Promise.all(
    checkpointIds.map((checkpointId, w) =>
      client.workflow.start('resumableParallelWorkflow', {
        taskQueue: config.taskQueue,
        workflowId: uniqueId(`fleet-run-${w}`),
        args: [
          {
            checkpointId,
            specs: taskIds(w).map((id) => spec(id)),
            concurrency: 2,
            // Short, so a kill is noticed fast; not so short that a worker process starved of CPU for a
            // moment by a loaded CI machine misses it (a retry that is no kill's; seen once at 2 s).
            stepPolicy: { heartbeatTimeoutMs: 3_000, initialRetryIntervalMs: 200 },
          },
        ],
      }),
    ),
  );

  // For each step the server had recorded complete at some kill: how many times it had started by then.
  // It may have started twice before (a kill caught it in flight); it must never start after.
  const startsWhenCompleted = new Map<string, number>();
  const inFlightAtKills = new Set<string>();
  for (let kill = 0; kill < KILLS; kill++) {
    await new Promise((resolve) => setTimeout(resolve, 700 + random() * 600));
    const victim = Math.floor(random() * workers.length);
    await workers[victim]!.kill();
    const completed = (await Promise.all(handles.map(completedStepIds))).flat();
    const log = SideEffects.read(logFile);
    // Read after the kill, so a step the victim started an instant before it died counts too;
    // a step it finished but had not reported yet is one the server does not have as completed.
    const done = new Set(completed);
    for (const id of log.startedBy(workers[victim]!.pid)) if (!done.has(id)) inFlightAtKills.add(id);
    for (const id of completed)
      if (!startsWhenCompleted.has(id)) startsWhenCompleted.set(id, log.starts(id).length);
    workers[victim] = await startWorkerProcess(config);
  }

  const results = (await Promise.all(handles.map((h) => h.result()))) as StepOutcome[][];
  const wallSeconds = (Date.now() - started) / 1000;
  results.forEach((result, w) => expect(result).toEqual(taskIds(w).map((id) => echoed(id, `do ${id}`))));

  const log = SideEffects.read(logFile);
  const all = Array.from({ length: WORKFLOWS }, (_, w) => taskIds(w)).flat();
  const reRun = all.filter((id) => log.starts(id).length > 1);
  const completedReRun = [...startsWhenCompleted].filter(([id, starts]) => log.starts(id).length > starts);
  expect(startsWhenCompleted.size).toBeGreaterThan(0);
  expect(completedReRun).toEqual([]);
  // Only steps caught in flight by a kill ran again.
  for (const id of reRun) expect(inFlightAtKills).toContain(id);

  const store = await PostgresSessionStore.connect(pg.url);
  try {
    for (const checkpointId of checkpointIds) expect(await store.load(checkpointId)).toBeUndefined();
  } finally {
    await store.close();
  }

  const figures = {
    workflows: WORKFLOWS,
    steps: all.length,
    kills: KILLS,
    stepsReRun: reRun.length,
    inFlightAtKills: inFlightAtKills.size,
    completedBeforeAKill: startsWhenCompleted.size,
    completedStepsReRun: completedReRun.length,
    wallSeconds,
  };
  mkdirSync(taoHome(), { recursive: true });
  writeFileSync(join(taoHome(), 'fault-figures.json'), `${JSON.stringify({ fleet: figures }, null, 2)}\n`);
  process.stdout.write(
    `fleet: ${WORKFLOWS} workflows, ${all.length} steps, ${KILLS} kills, ${reRun.length} steps re-run (of ${inFlightAtKills.size} in flight at a kill), ${completedReRun.length} of ${startsWhenCompleted.size} completed steps re-run, wall ${wallSeconds.toFixed(1)} s\n`,
  );
}, 180_000);
