import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { ScriptExecutor } from '../../src/executors/script';
import type { Progress } from '../../src/workflows/lib';
import { GateExecutor, eventually } from '../support/gate-executor';
import { spec } from '../support/specs';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

describe('cancellation', () => {
  test('cancelling a run cancels its running steps: the executor sees the abort signal', async () => {
    const executor = new GateExecutor(new ScriptExecutor(), () => true);
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('parallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('cancel'),
        // Cancellation reaches an activity on its heartbeat: a short timeout makes it prompt.
        args: [
          {
            specs: [spec('a'), spec('b'), spec('c')],
            concurrency: 2,
            stepPolicy: { heartbeatTimeoutMs: 1_000 },
          },
        ],
      });
      await eventually(async () => {
        const progress = await handle.query<Progress>('progress');
        return progress.totals.running === 2 ? progress : undefined;
      });
      await handle.cancel();
      const failure = await handle.result().catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      await eventually(async () => (executor.aborted.length === 2 ? true : undefined));
      expect(executor.aborted.sort()).toEqual(['a', 'b']);
    });
  });
});
