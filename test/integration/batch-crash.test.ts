/**
 * A batch run (items and outcomes by reference) through worker crashes: real
 * worker processes SIGKILLed at once after the run starts and again mid-run,
 * a fresh one each time. Every step's outcome ends in the store, the summary
 * counts each step once, and only steps in flight at a kill run again.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { results } from '../../src/client';
import type { RunSummary } from '../../src/contracts';
import { FileOutcomeStore } from '../../src/outcomes';
import { eventually } from '../support/gate-executor';
import { SideEffects } from '../support/side-effect-log';
import { useTempDir } from '../support/temp-dir';
import { closeDevClient, devClient, uniqueId } from '../support/temporal';
import { startWorkerProcess, stopWorkerProcesses } from '../support/worker-process';

afterAll(async () => {
  await stopWorkerProcesses();
  await closeDevClient();
});

const dir = useTempDir('tao-batch-crash');
const STEPS = 400;
const CONCURRENCY = 20;

test('a batch run survives SIGKILLs at once and mid-run: every outcome kept, each step counted once', async () => {
  const source = join(dir(), 'specs.jsonl');
  writeFileSync(
    source,
    Array.from({ length: STEPS }, (_, i) =>
      JSON.stringify({ taskId: `t${i}`, agent: 'explore', prompt: `p${i} ${'x'.repeat(2_000)}` }),
    ).join('\n'),
  );
  const logFile = join(dir(), 'side-effects.log');
  const config = {
    taskQueue: uniqueId('batch-crash'),
    storeDir: join(dir(), 'store'),
    logFile,
    script: { concurrency: CONCURRENCY, default: { delayMs: 150, output: 'read {{taskId}}' } },
  };
  const client = await devClient();
  let worker = await startWorkerProcess(config);
  const handle = await client.workflow.start('batchWorkflow', {
    taskQueue: config.taskQueue,
    workflowId: uniqueId('batch-crash'),
    args: [
      {
        source: { jsonl: source },
        concurrency: CONCURRENCY,
        stepPolicy: { heartbeatTimeoutMs: 2_000, initialRetryIntervalMs: 200 },
      },
    ],
  });
  // At once: whatever the worker had done of its first activation and steps.
  await new Promise((resolve) => setTimeout(resolve, 300));
  await worker.kill();
  worker = await startWorkerProcess(config);
  // Mid-run: once a third of the steps are done, with steps in flight (a loaded machine gets there slowly:
  // it starts the replacement worker, and redoes what the first kill caught, after a heartbeat timeout).
  const inFlight = await eventually(async () => {
    const log = SideEffects.read(logFile);
    if (log.done().length < STEPS / 3 || log.inFlight().length === 0) return undefined;
    await worker.kill();
    return log.inFlight().length;
  }, 120_000);
  worker = await startWorkerProcess(config);

  const summary: RunSummary = await handle.result();
  expect(summary).toMatchObject({ total: STEPS, succeeded: STEPS, failed: 0 });
  const kept = [];
  for await (const found of results(new FileOutcomeStore(join(dir(), 'store')), handle.workflowId))
    kept.push(found);
  expect(kept.map(({ seq }) => seq)).toEqual(Array.from({ length: STEPS }, (_, i) => i));
  expect(kept.every(({ seq, outcome }) => outcome.output === `read t${seq}`)).toBe(true);

  // At least once, and again only for a step a kill caught in flight (two kills, at most the concurrency each).
  const log = SideEffects.read(logFile);
  const starts = Array.from({ length: STEPS }, (_, i) => log.starts(`t${i}`).length);
  expect(starts.every((n) => n >= 1)).toBe(true);
  const again = starts.filter((n) => n > 1).length;
  console.log(`batch crash: ${again} steps ran again (${inFlight} in flight at the mid-run kill)`);
  expect(again).toBeLessThanOrEqual(2 * CONCURRENCY);
  await worker.stop();
}, 300_000);
