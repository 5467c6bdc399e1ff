/** `budget.onExhausted: wait` in the terminal: `tao pending` shows the spent limit, `tao budget` lets the step go on. */
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { tao } from '../support/cli';
import { eventually } from '../support/gate-executor';
import { closeDevClient, devServerAddress, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const server = () => ['--address', devServerAddress()];

test('tao pending lists a step waiting on a spent budget; tao budget raises it and the step runs', async () => {
  await withWorker({ executor: new ScriptExecutor() }, async ({ client, taskQueue }) => {
    const workflowId = uniqueId('cli-budget-wait');
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId,
      args: [
        {
          specs: ['a', 'b'].map((taskId) => ({ taskId, agent: 'explore', prompt: `do ${taskId}` })),
          concurrency: 1,
          budget: { maxSteps: 1, onExhausted: 'wait' },
        },
      ],
    });
    const query = ['--query', `WorkflowId = "${workflowId}"`];
    const pending = await eventually(async () => {
      const listed = await tao(['pending', ...query, ...server()]);
      return listed.stdout.includes(' b ') ? listed : undefined;
    });
    expect(pending.stdout).toBe(
      // Under it, what it would run: its prompt.
      `${workflowId}  b  (explore)  waiting to start: budget exhausted (steps 1/1) (tao budget raises it)\n    do b\n`,
    );
    expect(await tao(['budget', workflowId, '--max-steps', '2', ...server()])).toMatchObject({ code: 0 });
    const outcomes: StepOutcome[] = await handle.result();
    expect(outcomes.map((o) => [o.taskId, o.success])).toEqual([
      ['a', true],
      ['b', true],
    ]);
  });
});
