import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { eventually, gatedExecutor } from '../support/gate-executor';
import { spec } from '../support/specs';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

describe('cancellation', () => {
  test('cancelling a run cancels its running steps: the executor sees the abort signal', async () => {
    const { gate, executor, started } = gatedExecutor();
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
      // Both steps are at the executor: `running` in progress means only that their activities were scheduled.
      await eventually(async () => (started.length === 2 ? true : undefined));
      await handle.cancel();
      const failure = await handle.result().catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      await eventually(async () => (gate.aborted.length === 2 ? true : undefined));
      expect(gate.aborted.sort()).toEqual(['a', 'b']);
    });
  });
});
