/**
 * `budget.onExhausted: wait` on the dev server: a step about to start on a
 * spent budget waits as a pending decision; raising the limit lets it go on,
 * approving runs it past the limit, rejecting fails it.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { approveStep, pendingDecisions, rejectStep, setRunBudget } from '../../src/client';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { eventually } from '../support/gate-executor';
import { RecordingExecutor } from '../support/recording-executor';
import { spec } from '../support/specs';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

/** The run's pending decisions, once `taskId` is among them. */
const waitingOn = (client: Client, handle: WorkflowHandle, taskId: string) =>
  eventually(async () => {
    const { pending } = await pendingDecisions(client, {
      query: `WorkflowId = "${handle.workflowId}"`,
    });
    return pending.some((step) => step.taskId === taskId) ? pending : undefined;
  });

test('a step on a spent budget waits in pending; tao budget raises it, approve runs one past it, reject fails one', async () => {
  const executor = new RecordingExecutor(new ScriptExecutor());
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('budget-wait'),
      args: [
        {
          specs: ['a', 'b', 'c', 'd', 'e'].map((id) => spec(id)),
          concurrency: 1,
          budget: { maxSteps: 2, onExhausted: 'wait' },
        },
      ],
    });
    // Every step the spent budget holds back waits at once, holding no slot of the run's limit of 1.
    expect(await waitingOn(client, handle, 'e')).toEqual(
      ['c', 'd', 'e'].map((taskId) => ({
        workflowId: handle.workflowId,
        taskId,
        agent: 'explore',
        decision: 'budget',
        reason: 'budget exhausted (steps 2/2)',
      })),
    );
    expect(executor.started).toEqual(['a', 'b']);

    await setRunBudget(handle, { maxSteps: 3 });
    await waitingOn(client, handle, 'd');
    expect(executor.started).toEqual(['a', 'b', 'c']);
    await approveStep(handle, { taskId: 'd' });
    await waitingOn(client, handle, 'e');
    await rejectStep(handle, { taskId: 'e', comment: 'enough' });

    const outcomes: StepOutcome[] = await handle.result();
    expect(outcomes.map((o) => [o.taskId, o.success, o.error])).toEqual([
      ['a', true, undefined],
      ['b', true, undefined],
      ['c', true, undefined],
      ['d', true, undefined],
      ['e', false, 'budget exhausted (steps 3/3): rejected: enough'],
    ]);
    expect(executor.started).toEqual(['a', 'b', 'c', 'd']);
  });
});
