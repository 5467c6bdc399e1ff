/**
 * Issue 4's store faults on a real PostgreSQL: an outage mid-run (a clean stop,
 * and a server frozen with SIGSTOP that never answers), unreadable
 * checkpoints, a run resumed by another worker process with its own
 * connection, and credentials that never leak into history or progress.
 */
import { join } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { PostgresBlobStore } from '../../src/blobs/postgres';
import { PostgresSessionStore } from '../../src/stores/postgres-store';
import type { Progress } from '../../src/workflows/lib';
import { GateExecutor, eventually } from '../support/gate-executor';
import { TEST_POSTGRES_PASSWORD, startPostgres, type TestPostgres } from '../support/postgres';
import { RecordingExecutor } from '../support/recording-executor';
import { SideEffects } from '../support/side-effect-log';
import { echoed, spec } from '../support/specs';
import { useTempDir } from '../support/temp-dir';
import { closeDevClient, devClient, uniqueId, withWorker } from '../support/temporal';
import { startWorkerProcess, stopWorkerProcesses } from '../support/worker-process';
import { readFileSync } from 'node:fs';

const SECRET = TEST_POSTGRES_PASSWORD;

let pg: TestPostgres;
let store: PostgresSessionStore;
beforeAll(async () => {
  pg = await startPostgres();
  store = await PostgresSessionStore.connect(pg.url);
}, 60_000);
afterAll(async () => {
  await stopWorkerProcesses();
  await store?.close();
  await closeDevClient();
  pg?.destroy();
});
const dir = useTempDir('tao-pg-faults');

/** Set while an outage test has the server down or frozen, so a failure there cannot take the later tests with it. */
let restartOnFailure = false;
afterEach(() => {
  // thaw() is a no-op unless a test froze the server; destroy() in afterAll thaws too.
  pg.thaw();
  if (restartOnFailure) pg.start();
  restartOnFailure = false;
});

const checkpointed = async (checkpointId: string) =>
  (await store.load(checkpointId))?.steps.map((s) => s.taskId).sort() ?? [];

/** Starts a resumable run of steps a, b, c and d, and returns once a's step is checkpointed. */
async function startPastFirstStep(client: Client, taskQueue: string, checkpointId: string) {
  const handle = await client.workflow.start('resumableParallelWorkflow', {
    taskQueue,
    workflowId: uniqueId(`${checkpointId}-run`),
    args: [{ checkpointId, specs: ['a', 'b', 'c', 'd'].map((id) => spec(id)), concurrency: 4 }],
  });
  await eventually(async () => ((await checkpointed(checkpointId)).length === 1 ? true : undefined));
  return handle;
}

/** The run's progress once a store call has failed into a warning. */
const firstStoreWarning = (handle: WorkflowHandle) =>
  eventually(async () => {
    const progress = await handle.query<Progress>('progress');
    return progress.storeWarnings.length > 0 ? progress : undefined;
  });

test('PostgreSQL down mid-run: the run goes on with warnings; once back, later saves land and the checkpoint is right', async () => {
  const checkpointId = uniqueId('outage');
  const executor = new GateExecutor(
    new ScriptExecutor({ tasks: { d: { success: false, output: 'tests red' } } }),
    (id) => id !== 'a',
  );
  await withWorker({ executor, store }, async ({ client, taskQueue }) => {
    const handle = await startPastFirstStep(client, taskQueue, checkpointId);

    pg.stop();
    restartOnFailure = true;
    executor.release('b');
    const during = await firstStoreWarning(handle);
    expect(during.storeWarnings[0]).toMatch(
      /^checkpoint save failed \(run continues\): .*postgres checkpoint store/,
    );
    expect(JSON.stringify(during)).not.toContain(SECRET);

    pg.start();
    restartOnFailure = false;
    executor.release('c');
    executor.release('d');
    const result: StepOutcome[] = await handle.result();
    expect(result.map((o) => o.success)).toEqual([true, true, true, false]);
    // b's save failed during the outage; the next save carried it along.
    expect(await checkpointed(checkpointId)).toEqual(['a', 'b', 'c']);

    const history = JSON.stringify(await handle.fetchHistory());
    expect(history).not.toContain(SECRET);
    expect(history).not.toContain(Buffer.from(SECRET).toString('base64'));
  });
});

test('PostgreSQL frozen mid-run (SIGSTOP): store calls fail within the query timeout, the step does not hang; after SIGCONT the run completes, each step run once', async () => {
  const checkpointId = uniqueId('frozen');
  // A short bound, so the frozen stretch is quick; the default (QUERY_TIMEOUT_MS) is 10 s.
  const bounded = await PostgresSessionStore.connect(`${pg.url}?query_timeout=1000`);
  const blobs = new PostgresBlobStore(`${pg.url}?query_timeout=1000`);
  const gate = new GateExecutor(new ScriptExecutor(), (id) => id !== 'a');
  const executor = new RecordingExecutor(gate);
  try {
    await withWorker({ executor, store: bounded }, async ({ client, taskQueue }) => {
      const handle = await startPastFirstStep(client, taskQueue, checkpointId);
      const blobKey = await blobs.put(Buffer.from('a payload'));

      pg.freeze();
      // A call on a frozen server is never answered: it fails with the bound it waited for, naming the store.
      await expect(bounded.load(checkpointId)).rejects.toThrow(
        /^postgres checkpoint store at postgres:\/\/tao:\*\*\*@127\.0\.0\.1:\d+\/postgres\?query_timeout=1000 failed \(no answer from the server within 1000 ms: /,
      );
      await expect(blobs.get(blobKey)).rejects.toThrow(
        /^postgres blob store at postgres:\/\/tao:\*\*\*@.* failed \(no answer from the server within 1000 ms: /,
      );
      gate.release('b');
      // b finishes while the server is frozen: its step waits on no store call, and its save fails, retried, into a warning.
      const during = await firstStoreWarning(handle);
      expect(during.steps.find((s) => s.taskId === 'b')!.status).toBe('succeeded');
      expect(during.storeWarnings[0]).toMatch(
        /^checkpoint save failed \(run continues\): .*postgres checkpoint store .* failed \(no answer from the server within 1000 ms: /,
      );
      expect(JSON.stringify(during)).not.toContain(SECRET);

      pg.thaw();
      gate.release('c');
      gate.release('d');
      const result: StepOutcome[] = await handle.result();
      expect(result).toEqual(['a', 'b', 'c', 'd'].map((id) => echoed(id, `do ${id}`)));
      // One worker, no activity attempt of a step failed (the store's failures were the save activity's):
      // at-least-once allows no second run here, so each step reached the executor exactly once.
      expect([...executor.started].sort()).toEqual(['a', 'b', 'c', 'd']);
      // A run that succeeded deletes its checkpoint: the store answers again.
      expect(await store.load(checkpointId)).toBeUndefined();
      const history = JSON.stringify(await handle.fetchHistory());
      expect(history).not.toContain(SECRET);
      expect(history).not.toContain(Buffer.from(SECRET).toString('base64'));
    });
  } finally {
    // Closing waits on the server: thaw first, whatever failed above.
    pg.thaw();
    await Promise.all([bounded.close(), blobs.close()]);
  }
});

describe('unreadable checkpoints in PostgreSQL', () => {
  const plant = async (checkpointId: string, fixture: string) => {
    const doc = readFileSync(join(__dirname, '../fixtures/a3s-checkpoints', fixture), 'utf8');
    const client = new PgClient({ connectionString: pg.url });
    await client.connect();
    await client.query('INSERT INTO tao_checkpoints (checkpoint_id, seq, doc) VALUES ($1, 1, $2::jsonb)', [
      checkpointId,
      doc,
    ]);
    await client.end();
  };

  test.each(['future-schema.json', 'task-id-mismatch.json'])(
    '%s: re-run everything by default; refuse with onUnreadableCheckpoint "fail"',
    async (fixture) => {
      const executor = new RecordingExecutor(new ScriptExecutor());
      await withWorker({ executor, store }, async ({ client, taskQueue }) => {
        const rerun = uniqueId('pg-rerun');
        await plant(rerun, fixture);
        const handle = await client.workflow.start('resumableParallelWorkflow', {
          taskQueue,
          workflowId: uniqueId('pg-rerun-run'),
          args: [{ checkpointId: rerun, specs: [spec('t1'), spec('t2')] }],
        });
        expect((await handle.result()).map((o: StepOutcome) => o.success)).toEqual([true, true]);
        expect((await handle.query<Progress>('progress')).checkpointWarning).toContain('unreadable');
        expect(executor.started.sort()).toEqual(['t1', 't2']);

        const refuse = uniqueId('pg-refuse');
        await plant(refuse, fixture);
        const refused: StepOutcome[] = await client.workflow.execute('resumableParallelWorkflow', {
          taskQueue,
          workflowId: uniqueId('pg-refuse-run'),
          args: [{ checkpointId: refuse, specs: [spec('t1')], onUnreadableCheckpoint: 'fail' }],
        });
        expect(refused[0]!.output).toMatch(new RegExp(`^checkpoint ${refuse} cannot be resumed: `));
        expect(executor.started).toHaveLength(2);
      });
    },
  );
});

test('a run interrupted on one worker process resumes on another, each with its own connection', async () => {
  const checkpointId = uniqueId('cross');
  const taskIds = Array.from({ length: 6 }, (_, i) => `x${i}`);
  const logFile = join(dir(), 'side-effects.log');
  const config = {
    taskQueue: uniqueId('cross-q'),
    storeDir: join(dir(), 'unused'),
    storeRef: pg.url,
    logFile,
    script: {
      concurrency: 2,
      tasks: Object.fromEntries(taskIds.map((id, i) => [id, { delayMs: 300 + 200 * (i % 3) }])),
    },
  };
  const input = { checkpointId, specs: taskIds.map((id) => spec(id)), concurrency: 2 };
  const client = await devClient();

  const machineA = await startWorkerProcess(config);
  const first = await client.workflow.start('resumableParallelWorkflow', {
    taskQueue: config.taskQueue,
    workflowId: uniqueId('cross-a'),
    args: [input],
  });
  await eventually(async () => ((await checkpointed(checkpointId)).length >= 2 ? true : undefined));
  await machineA.kill();
  await first.terminate('machine A is gone');
  const doneOnA = await checkpointed(checkpointId);

  const machineB = await startWorkerProcess(config);
  try {
    const result: StepOutcome[] = await client.workflow.execute('resumableParallelWorkflow', {
      taskQueue: config.taskQueue,
      workflowId: uniqueId('cross-b'),
      args: [input],
    });
    expect(result).toEqual(taskIds.map((id) => echoed(id, `do ${id}`)));
    const log = SideEffects.read(logFile);
    for (const id of taskIds) {
      const onB = log.starts(id).filter((s) => s.pid === machineB.pid);
      expect(onB).toHaveLength(doneOnA.includes(id) ? 0 : 1);
    }
    expect(await store.load(checkpointId)).toBeUndefined();
  } finally {
    await machineB.stop();
  }
});

test('a worker that cannot reach its store says so on stderr without the password', async () => {
  const failure = await startWorkerProcess({
    taskQueue: uniqueId('no-store'),
    storeDir: join(dir(), 'unused'),
    storeRef: `postgres://tao:${SECRET}@127.0.0.1:1/postgres`,
    logFile: join(dir(), 'side-effects.log'),
    script: {},
  }).catch((error: Error) => error);
  expect(failure).toBeInstanceOf(Error);
  expect((failure as Error).message).toContain(
    'postgres checkpoint store at postgres://tao:***@127.0.0.1:1/postgres failed',
  );
  expect((failure as Error).message).not.toContain(SECRET);
});
