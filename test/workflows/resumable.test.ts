import type { Progress } from '../../src/workflows/lib';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type StepOutcome, WORKFLOW_CHECKPOINT_SCHEMA_VERSION } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { FileSessionStore } from '../../src/stores/file-store';
import { MemorySessionStore } from '../../src/stores/memory-store';
import type { SessionStore } from '../../src/stores/session-store';
import { RecordingExecutor } from '../support/recording-executor';
import { echoed, spec } from '../support/specs';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const FIXTURES = join(__dirname, '../fixtures/a3s-checkpoints');

async function seed(store: SessionStore, checkpointId: string, steps: StepOutcome[]): Promise<void> {
  await store.save(checkpointId, {
    schemaVersion: WORKFLOW_CHECKPOINT_SCHEMA_VERSION,
    workflowId: checkpointId,
    steps: steps.map((outcome) => ({ taskId: outcome.taskId, outcome })),
    checkpointMs: 1,
  });
}

describe('resumableParallelWorkflow on the dev server', () => {
  test('completed steps are skipped and return cached outcomes; full success deletes the checkpoint (SPEC 5)', async () => {
    const store = new MemorySessionStore();
    const checkpointId = uniqueId('cp');
    // Output the executor would never produce: proves the cached outcome came back unchanged.
    await seed(store, checkpointId, [{ ...echoed('a', 'from an earlier run'), structured: { n: 1 } }]);
    const executor = new RecordingExecutor(new ScriptExecutor());
    await withWorker({ executor, store }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('resumableParallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('resume'),
        args: [{ checkpointId, specs: [spec('a'), spec('b'), spec('c')] }],
      });
      const result: StepOutcome[] = await handle.result();
      expect(result).toEqual([
        { ...echoed('a', 'from an earlier run'), structured: { n: 1 } },
        echoed('b', 'do b'),
        echoed('c', 'do c'),
      ]);
      expect(executor.started.sort()).toEqual(['b', 'c']);
      expect(await store.load(checkpointId)).toBeUndefined();
      const progress = await handle.query<Progress>('progress');
      expect(progress.totals).toMatchObject({ cached: 1, succeeded: 2, all: 3 });
    });
  });

  test('checkpointId defaults to the workflow id', async () => {
    const store = new MemorySessionStore();
    const workflowId = uniqueId('resume-default-id');
    await seed(store, workflowId, [echoed('a', 'cached')]);
    const executor = new RecordingExecutor(new ScriptExecutor());
    await withWorker({ executor, store }, async ({ client, taskQueue }) => {
      const result: StepOutcome[] = await client.workflow.execute('resumableParallelWorkflow', {
        taskQueue,
        workflowId,
        args: [{ specs: [spec('a'), spec('b')] }],
      });
      expect(result.map((o) => o.output)).toEqual(['cached', 'do b']);
      expect(executor.started).toEqual(['b']);
    });
  });

  test('partial failure keeps the checkpoint with only the successes (SPEC 6); resume retries the rest', async () => {
    const store = new MemorySessionStore();
    const checkpointId = uniqueId('cp-partial');
    const first = new ScriptExecutor({
      tasks: { b: { success: false, output: 'tests red' }, d: { throw: 'runtime crashed' } },
    });
    const specs = [spec('a'), spec('b'), spec('c'), spec('d')];
    await withWorker({ executor: first, store }, async ({ client, taskQueue }) => {
      const result: StepOutcome[] = await client.workflow.execute('resumableParallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('partial'),
        args: [{ checkpointId, specs }],
      });
      expect(result.map((o) => o.success)).toEqual([true, false, true, false]);
      expect(result[3]).toMatchObject({ taskId: 'd', output: 'runtime crashed' });
    });
    const kept = await store.load(checkpointId);
    expect(kept!.steps.map((s) => s.taskId).sort()).toEqual(['a', 'c']);

    const second = new RecordingExecutor(new ScriptExecutor());
    await withWorker({ executor: second, store }, async ({ client, taskQueue }) => {
      const result: StepOutcome[] = await client.workflow.execute('resumableParallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('partial-resume'),
        args: [{ checkpointId, specs }],
      });
      expect(result.every((o) => o.success)).toBe(true);
      expect(second.started.sort()).toEqual(['b', 'd']);
    });
    expect(await store.load(checkpointId)).toBeUndefined();
  });

  test('checkpointed steps absent from the new specs are dropped; only new ones run (SPEC 11)', async () => {
    const store = new MemorySessionStore();
    const checkpointId = uniqueId('cp-stale');
    await seed(store, checkpointId, [echoed('old', 'gone'), echoed('a', 'cached a')]);
    const executor = new RecordingExecutor(new ScriptExecutor());
    await withWorker({ executor, store }, async ({ client, taskQueue }) => {
      const result: StepOutcome[] = await client.workflow.execute('resumableParallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('stale'),
        args: [{ checkpointId, specs: [spec('b'), spec('a')] }],
      });
      // Merged in the order of the new specs.
      expect(result.map((o) => o.output)).toEqual(['do b', 'cached a']);
      expect(executor.started).toEqual(['b']);
    });
  });

  test('a store written by a3s-code-core 9.1.3 resumes: its two steps are served, only the new one runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tao-a3s-store-'));
    try {
      cpSync(join(FIXTURES, 'a3s-9.1.3-store'), dir, { recursive: true });
      const executor = new RecordingExecutor(new ScriptExecutor());
      const store = new FileSessionStore(dir);
      await withWorker({ executor, store }, async ({ client, taskQueue }) => {
        const result: StepOutcome[] = await client.workflow.execute('resumableParallelWorkflow', {
          taskQueue,
          workflowId: uniqueId('a3s-store'),
          args: [
            { checkpointId: 'review/run-7', specs: [spec('explore-a'), spec('review-a'), spec('fix-a')] },
          ],
        });
        expect(result.map((o) => o.output)).toEqual(['rust:explore-a', 'rust:review-a', 'do fix-a']);
        expect(executor.started).toEqual(['fix-a']);
      });
      // Complete, so the checkpoint is gone, from the layout a3s wrote it in.
      expect(await store.load('review/run-7')).toBeUndefined();
      expect(readdirSync(join(dir, 'v1', 'workflow_checkpoints'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('a checkpointed outcome is bound to the spec that produced it', () => {
    const red = { tasks: { red: { success: false, output: 'tests red' } } };
    const original = [spec('a', 'explore', 'check a.ts'), spec('red')];
    const changed = [spec('a', 'explore', 'check a.ts and b.ts'), spec('red')];

    /** A first run that checkpoints `a` (with its spec's digest) and leaves the checkpoint, as `red` fails. */
    async function checkpointA(store: SessionStore, checkpointId: string): Promise<string> {
      await withWorker({ executor: new ScriptExecutor(red), store }, ({ client, taskQueue }) =>
        client.workflow.execute('resumableParallelWorkflow', {
          taskQueue,
          workflowId: uniqueId('bind-first'),
          args: [{ checkpointId, specs: original }],
        }),
      );
      const [step] = (await store.load(checkpointId))!.steps;
      expect(step).toMatchObject({ taskId: 'a', specDigest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
      return step!.specDigest!;
    }

    test('a step whose spec changed runs again, with a warning, and its new outcome replaces the old', async () => {
      const store = new FileSessionStore(mkdtempSync(join(tmpdir(), 'tao-stale-')));
      const checkpointId = uniqueId('cp-stale');
      const firstDigest = await checkpointA(store, checkpointId);
      const executor = new RecordingExecutor(new ScriptExecutor(red));
      await withWorker({ executor, store }, async ({ client, taskQueue }) => {
        const handle = await client.workflow.start('resumableParallelWorkflow', {
          taskQueue,
          workflowId: uniqueId('bind-changed'),
          args: [{ checkpointId, specs: changed }],
        });
        const result: StepOutcome[] = await handle.result();
        expect(result.map((o) => o.output)).toEqual(['check a.ts and b.ts', 'tests red']);
        expect(executor.started.sort()).toEqual(['a', 'red']);
        expect((await handle.query<Progress>('progress')).checkpointWarning).toBe(
          `checkpoint ${checkpointId}: the spec of a changed since it was checkpointed; running it again`,
        );
      });
      const [step] = (await store.load(checkpointId))!.steps;
      expect(step!.outcome.output).toBe('check a.ts and b.ts');
      expect(step!.specDigest).not.toBe(firstDigest);

      // The same spec again: served from the checkpoint, no warning.
      const again = new RecordingExecutor(new ScriptExecutor(red));
      await withWorker({ executor: again, store }, async ({ client, taskQueue }) => {
        const handle = await client.workflow.start('resumableParallelWorkflow', {
          taskQueue,
          workflowId: uniqueId('bind-same'),
          args: [{ checkpointId, specs: changed }],
        });
        await handle.result();
        expect(again.started).toEqual(['red']);
        expect((await handle.query<Progress>('progress')).checkpointWarning).toBeUndefined();
      });
    });

    test('onStaleCheckpoint "fail": nothing runs, every step fails naming the changed step, the checkpoint stays', async () => {
      const store = new MemorySessionStore();
      const checkpointId = uniqueId('cp-stale-fail');
      await checkpointA(store, checkpointId);
      const before = await store.load(checkpointId);
      const executor = new RecordingExecutor(new ScriptExecutor(red));
      await withWorker({ executor, store }, async ({ client, taskQueue }) => {
        const result: StepOutcome[] = await client.workflow.execute('resumableParallelWorkflow', {
          taskQueue,
          workflowId: uniqueId('bind-refuse'),
          args: [{ checkpointId, specs: changed, onStaleCheckpoint: 'fail' }],
        });
        const message = `checkpoint ${checkpointId} cannot be resumed: stale result identity: the spec of a changed since it was checkpointed`;
        expect(result.map((o) => [o.taskId, o.success, o.output])).toEqual([
          ['a', false, message],
          ['red', false, message],
        ]);
        expect(executor.started).toEqual([]);
      });
      expect(await store.load(checkpointId)).toEqual(before);
    });
  });

  describe('unreadable checkpoints re-run every step and say so (SPEC 10)', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'tao-unreadable-'));
      mkdirSync(join(dir, 'workflow_checkpoints'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    test.each([
      ['not-json.json', 'not JSON'],
      ['future-schema.json', 'schema version 2 is newer than 1'],
      ['task-id-mismatch.json', 'holds an outcome for task t2'],
    ])('%s', async (fixture, reason) => {
      const checkpointId = uniqueId('cp-bad');
      copyFileSync(join(FIXTURES, fixture), join(dir, 'workflow_checkpoints', `${checkpointId}.json`));
      const executor = new RecordingExecutor(new ScriptExecutor());
      await withWorker({ executor, store: new FileSessionStore(dir) }, async ({ client, taskQueue }) => {
        const handle = await client.workflow.start('resumableParallelWorkflow', {
          taskQueue,
          workflowId: uniqueId('unreadable'),
          args: [{ checkpointId, specs: [spec('t1'), spec('t2'), spec('a')] }],
        });
        const result: StepOutcome[] = await handle.result();
        expect(result.map((o) => o.output)).toEqual(['do t1', 'do t2', 'do a']);
        expect(executor.started.sort()).toEqual(['a', 't1', 't2']);
        const progress = await handle.query<Progress>('progress');
        expect(progress.checkpointWarning).toContain(`checkpoint ${checkpointId} unreadable`);
        expect(progress.checkpointWarning?.toLowerCase()).toContain(reason.toLowerCase());
      });
    });
  });

  test.each(['not-json.json', 'future-schema.json', 'task-id-mismatch.json'])(
    'onUnreadableCheckpoint "fail" with %s: nothing runs, every step fails saying why, the checkpoint stays',
    async (fixture) => {
      const dir = mkdtempSync(join(tmpdir(), 'tao-refuse-'));
      try {
        mkdirSync(join(dir, 'workflow_checkpoints'));
        const checkpointId = uniqueId('cp-refuse');
        const file = join(dir, 'workflow_checkpoints', `${checkpointId}.json`);
        copyFileSync(join(FIXTURES, fixture), file);
        const executor = new RecordingExecutor(new ScriptExecutor());
        await withWorker({ executor, store: new FileSessionStore(dir) }, async ({ client, taskQueue }) => {
          const result: StepOutcome[] = await client.workflow.execute('resumableParallelWorkflow', {
            taskQueue,
            workflowId: uniqueId('refuse'),
            args: [{ checkpointId, specs: [spec('t1'), spec('x')], onUnreadableCheckpoint: 'fail' }],
          });
          expect(result.map((o) => [o.taskId, o.success])).toEqual([
            ['t1', false],
            ['x', false],
          ]);
          expect(result[0]!.output).toMatch(new RegExp(`^checkpoint ${checkpointId} cannot be resumed: `));
          expect(executor.started).toEqual([]);
        });
        expect(readFileSync(file)).toEqual(readFileSync(join(FIXTURES, fixture)));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test('a checkpoint id no store could hold is rejected at once, naming the field', async () => {
    await withWorker({ executor: new ScriptExecutor() }, async ({ client, taskQueue }) => {
      await expect(
        client.workflow.execute('resumableParallelWorkflow', {
          taskQueue,
          workflowId: uniqueId('bad-id'),
          args: [{ checkpointId: 'x'.repeat(600), specs: [spec('a')] }],
        }),
      ).rejects.toMatchObject({
        cause: {
          type: 'InvalidInput',
          message: 'invalid input: checkpointId: must be at most 512 characters',
        },
      });
    });
  });

  test('a repeated taskId is rejected at once: it is the checkpoint key', async () => {
    await withWorker({ executor: new ScriptExecutor() }, async ({ client, taskQueue }) => {
      await expect(
        client.workflow.execute('resumableParallelWorkflow', {
          taskQueue,
          workflowId: uniqueId('dup'),
          args: [{ specs: [spec('a'), spec('a')] }],
        }),
      ).rejects.toMatchObject({
        cause: { type: 'InvalidInput', message: expect.stringContaining('specs.1.taskId') },
      });
    });
  });
});
