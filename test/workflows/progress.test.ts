import type { WorkflowHandle } from '@temporalio/client';
import { ScriptExecutor } from '../../src/executors/script';
import type { Progress, StepStatus } from '../../src/workflows/lib';
import { GateExecutor, eventually } from '../support/gate-executor';
import { spec } from '../support/specs';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

/** Waits until the progress query shows these statuses, by taskId. */
const statuses = (handle: WorkflowHandle, expected: Record<string, StepStatus>) =>
  eventually(async () => {
    const progress = await handle.query<Progress>('progress');
    const now = Object.fromEntries(progress.steps.map((s) => [s.taskId, s.status]));
    return Object.entries(expected).every(([id, status]) => now[id] === status) ? progress : undefined;
  });

describe('the progress query', () => {
  test('shows each step live: pending, running, succeeded, failed, with attempts and totals', async () => {
    const executor = new GateExecutor(
      new ScriptExecutor({ tasks: { c: { success: false, output: 'lint errors' } } }),
      () => true,
    );
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('parallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('progress'),
        args: [{ specs: [spec('a'), spec('b'), spec('c')], concurrency: 2 }],
      });
      const early = await statuses(handle, { a: 'running', b: 'running', c: 'pending' });
      expect(early.totals).toMatchObject({ running: 2, pending: 1, all: 3 });

      executor.release('a');
      await statuses(handle, { a: 'succeeded', b: 'running', c: 'running' });
      executor.release('b');
      executor.release('c');
      await handle.result();

      // Queries answer after the run closed too: the final board.
      const final = await handle.query<Progress>('progress');
      const ran = expect.any(Number) as number;
      expect(final.steps).toEqual([
        // durationMs: how long each attempt ran, as the activity measured it.
        { key: 'a', taskId: 'a', agent: 'explore', status: 'succeeded', attempt: 1, durationMs: ran },
        { key: 'b', taskId: 'b', agent: 'explore', status: 'succeeded', attempt: 1, durationMs: ran },
        {
          key: 'c',
          taskId: 'c',
          agent: 'explore',
          status: 'failed',
          attempt: 1,
          error: 'lint errors',
          durationMs: ran,
        },
      ]);
      expect(final.totals).toEqual({
        pending: 0,
        waiting: 0,
        running: 0,
        succeeded: 2,
        failed: 1,
        cached: 0,
        reused: 0,
        skipped: 0,
        all: 3,
      });
      expect(final.storeWarnings).toEqual([]);
      expect(final.checkpointWarning).toBeUndefined();
    });
  });

  test('answers even when the input was rejected', async () => {
    await withWorker({ executor: new ScriptExecutor() }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('pipelineWorkflow', {
        taskQueue,
        workflowId: uniqueId('progress-bad'),
        args: [{ items: [], stages: [] }],
      });
      await expect(handle.result()).rejects.toThrow();
      expect((await handle.query<Progress>('progress')).totals.all).toBe(0);
    });
  });
});
