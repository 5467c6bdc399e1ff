import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentStepSpecInput, StepOutcome } from '../../src/contracts';
import { ScriptExecutor, type ScriptFile } from '../../src/executors/script';
import { FileSessionStore } from '../../src/stores/file-store';
import { PostgresSessionStore } from '../../src/stores/postgres-store';
import type { SessionStore } from '../../src/stores/session-store';
import { startPostgres } from '../support/postgres';
import type { Progress } from '../../src/workflows/lib';
import { RecordingExecutor } from '../support/recording-executor';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tao-step-cache-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const cachedSpec = (taskId: string, cache: object = {}): AgentStepSpecInput => ({
  taskId,
  agent: 'explore',
  prompt: `explore ${taskId.replace(/-.*/, '')}`,
  cache,
});

interface Ran {
  workflowId: string;
  result: StepOutcome[];
  progress: Progress;
  /** Task ids the executor started. */
  started: string[];
}

/**
 * One parallel run on a worker of its own (a fresh executor and store
 * instance on the shared folder), as another machine of a fleet would be.
 */
async function run(
  specs: AgentStepSpecInput[],
  extra: object = {},
  script: ScriptFile = {},
  store: SessionStore = new FileSessionStore(dir),
): Promise<Ran> {
  const executor = new RecordingExecutor(new ScriptExecutor(script));
  return withWorker({ executor, store }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('step-cache'),
      args: [{ specs, ...extra }],
    });
    const result: StepOutcome[] = await handle.result();
    const progress = await handle.query<Progress>('progress');
    return { workflowId: handle.workflowId, result, progress, started: executor.started };
  });
}

describe('step cache across runs on the dev server', () => {
  test('a store without the cache (written against 1.0) runs cached specs every time', async () => {
    const bare = (): SessionStore => {
      const store: SessionStore = new FileSessionStore(dir);
      // What an outside SessionStore written before the cache has: none of its methods.
      return Object.assign(store, {
        getCached: undefined,
        putCached: undefined,
        listCached: undefined,
        deleteCached: undefined,
        clearCached: undefined,
      });
    };
    const first = await run([cachedSpec('a-1')], {}, {}, bare());
    const second = await run([cachedSpec('a-2')], {}, {}, bare());
    expect([first.started, second.started]).toEqual([['a-1'], ['a-2']]);
    expect(second.progress.totals).toMatchObject({ succeeded: 1, cached: 0 });
  });

  test('a second run takes both cached outcomes from the first: nothing runs, shown cached from it, no budget spent', async () => {
    const first = await run([cachedSpec('a-1'), cachedSpec('b-1')]);
    expect(first.started.sort()).toEqual(['a-1', 'b-1']);
    expect(first.progress.totals).toMatchObject({ succeeded: 2, cached: 0 });

    // Other task ids, same work: the key is the spec's digest, which leaves the task id out.
    const second = await run([cachedSpec('a-2'), cachedSpec('b-2')], { budget: { maxSteps: 1 } });
    expect(second.started).toEqual([]);
    expect(second.result).toEqual([
      { ...first.result[0], taskId: 'a-2' },
      { ...first.result[1], taskId: 'b-2' },
    ]);
    expect(second.progress.totals).toMatchObject({ cached: 2, succeeded: 0 });
    expect(second.progress.steps).toEqual([
      expect.objectContaining({ taskId: 'a-2', status: 'cached', cachedFrom: first.workflowId }),
      expect.objectContaining({ taskId: 'b-2', status: 'cached', cachedFrom: first.workflowId }),
    ]);
    expect(second.progress.budget?.spent).toEqual({ tokens: 0, steps: 0, costUsd: 0 });
  });

  test('an expired entry, another user key, another executor config, or a spec without cache runs again', async () => {
    await run([cachedSpec('a', { key: 'commit-1' }), cachedSpec('b', { ttlMs: 1 })]);
    const again = await run([
      cachedSpec('a', { key: 'commit-1' }),
      cachedSpec('b', { ttlMs: 1 }),
      cachedSpec('c', { key: 'commit-2' }),
      { ...cachedSpec('d'), cache: undefined },
    ]);
    expect(again.started.sort()).toEqual(['b', 'c', 'd']);
    expect(again.progress.steps.map((step) => step.status)).toEqual([
      'cached',
      'succeeded',
      'succeeded',
      'succeeded',
    ]);

    const otherScript = await run(
      [cachedSpec('a', { key: 'commit-1' })],
      {},
      { default: { output: 'other' } },
    );
    expect(otherScript.started).toEqual(['a']);
    expect(otherScript.result[0]!.output).toBe('other');
  });

  test('a failed outcome is not cached; a pipeline stage takes cache through its template', async () => {
    const failing: ScriptFile = { agents: { explore: { success: false, output: 'red' } } };
    await run([cachedSpec('a')], {}, failing);
    expect((await run([cachedSpec('a')], {}, failing)).started).toEqual(['a']);

    const stage = { taskId: 'explore-{{index}}', agent: 'explore', prompt: 'explore {{item}}', cache: {} };
    const pipeline = async () => {
      const executor = new RecordingExecutor(new ScriptExecutor({}));
      return withWorker({ executor, store: new FileSessionStore(dir) }, async ({ client, taskQueue }) => {
        const handle = await client.workflow.start('pipelineWorkflow', {
          taskQueue,
          workflowId: uniqueId('step-cache-pipeline'),
          args: [{ items: ['x.ts', 'y.ts'], stages: [stage] }],
        });
        return { result: await handle.result(), started: executor.started, workflowId: handle.workflowId };
      });
    };
    const first = await pipeline();
    const second = await pipeline();
    expect(first.started).toHaveLength(2);
    expect(second.started).toEqual([]);
    expect(second.result).toEqual(first.result);
  });

  test('workers on one PostgreSQL database share the cache', async () => {
    const pg = await startPostgres();
    const stores = [await PostgresSessionStore.connect(pg.url), await PostgresSessionStore.connect(pg.url)];
    try {
      const first = await run([cachedSpec('a')], {}, {}, stores[0]);
      const second = await run([cachedSpec('a')], {}, {}, stores[1]);
      expect(first.started).toEqual(['a']);
      expect(second.started).toEqual([]);
      expect(second.progress.steps[0]).toMatchObject({ status: 'cached', cachedFrom: first.workflowId });
      expect(second.result).toEqual(first.result);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await pg.destroy();
    }
  }, 60_000);

  test('a store that cannot answer or keep is a miss: the steps run and succeed, run after run', async () => {
    const pg = await startPostgres();
    const store = await PostgresSessionStore.connect(pg.url);
    await pg.destroy();
    try {
      for (let runs = 0; runs < 2; runs++) {
        const ran = await run([cachedSpec('a')], {}, {}, store);
        expect(ran.started).toEqual(['a']);
        expect(ran.result[0]).toMatchObject({ success: true, output: 'explore a' });
      }
    } finally {
      await store.close();
    }
  }, 60_000);
});
