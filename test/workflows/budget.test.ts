/**
 * Run budgets on the dev server: spend adds up from outcomes, no step starts
 * once a limit is reached, steps still waiting then end "budget exhausted",
 * and `setBudget` raised mid-run lets waiting steps go on.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import type { Progress } from '../../src/workflows/lib';
import { GateExecutor, eventually } from '../support/gate-executor';
import { RecordingExecutor } from '../support/recording-executor';
import { spec } from '../support/specs';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';
import { updateFromCli } from '../support/temporal-cli';

afterAll(closeDevClient);

/** Every step reports 400 tokens and 1 cent. */
const costly = () =>
  new ScriptExecutor({
    default: { usage: { inputTokens: 300, outputTokens: 100, model: 'm', latencyMs: 1, costUsd: 0.01 } },
  });
const ids = (...taskIds: string[]) => taskIds.map((id) => spec(id));
const results = async (handle: WorkflowHandle) =>
  ((await handle.result()) as StepOutcome[]).map((o) => [o.taskId, o.success, o.error]);

test.each([
  ['maxSteps', { maxSteps: 2 }, 'budget exhausted (steps 2/2)'],
  ['maxTokens', { maxTokens: 800 }, 'budget exhausted (tokens 800/800)'],
  ['maxCostUsd', { maxCostUsd: 0.02 }, 'budget exhausted (cost $0.0200/$0.02)'],
])(
  '%s: once spent, the steps not started end failed; progress shows spend against budget',
  async (_, budget, why) => {
    const executor = new RecordingExecutor(costly());
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('parallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('budget'),
        args: [{ specs: ids('a', 'b', 'c', 'd'), concurrency: 1, budget }],
      });
      expect(await results(handle)).toEqual([
        ['a', true, undefined],
        ['b', true, undefined],
        ['c', false, why],
        ['d', false, why],
      ]);
      expect(executor.started).toEqual(['a', 'b']);
      const progress = await handle.query<Progress>('progress');
      expect(progress.budget).toEqual({ limits: budget, spent: { steps: 2, tokens: 800, costUsd: 0.02 } });
    });
  },
);

test('a step that reaches a spent budget waits while others run; setBudget raises it and it goes on', async () => {
  const gate = new GateExecutor(costly(), (taskId) => taskId === 'b');
  const executor = new RecordingExecutor(gate);
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const workflowId = uniqueId('budget-raise');
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId,
      args: [{ specs: ids('a', 'b', 'c'), concurrency: 2, budget: { maxSteps: 1 } }],
    });
    // a finishes and spends the budget; b is still running, so c waits rather than failing.
    await eventually(async () => {
      const { steps } = await handle.query<Progress>('progress');
      return steps.find((s) => s.taskId === 'a')?.status === 'succeeded' ? true : undefined;
    });
    expect(executor.started.sort()).toEqual(['a', 'b']);
    expect(await updateFromCli(workflowId, 'setBudget', { maxSteps: 5 })).toMatchObject({
      limits: { maxSteps: 5 },
    });
    await eventually(async () => (executor.started.length === 3 ? true : undefined));
    gate.release('b');
    expect(await results(handle)).toEqual([
      ['a', true, undefined],
      ['b', true, undefined],
      ['c', true, undefined],
    ]);
  });
});

test('a pipeline stops its chain at the budget', async () => {
  const executor = new RecordingExecutor(costly());
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const result = (await client.workflow.execute('pipelineWorkflow', {
      taskQueue,
      workflowId: uniqueId('budget-pipeline'),
      args: [
        {
          items: ['x'],
          stages: ['one', 'two', 'three'].map((stage) => ({ taskId: stage, agent: 'a', prompt: stage })),
          budget: { maxSteps: 2 },
        },
      ],
    })) as StepOutcome[];
    expect(result.map((o) => [o.taskId, o.success, o.error])).toEqual([
      ['three', false, 'budget exhausted (steps 2/2)'],
    ]);
    expect(executor.started).toEqual(['one', 'two']);
  });
});

test("a resumable run's windows share one budget across continue-as-new", async () => {
  const executor = new RecordingExecutor(costly());
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('resumableParallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('budget-windows'),
      args: [
        { specs: ids('a', 'b', 'c', 'd', 'e'), maxStepsPerRun: 2, concurrency: 1, budget: { maxSteps: 3 } },
      ],
    });
    const result: StepOutcome[] = await handle.result();
    expect(result.map((o) => o.success)).toEqual([true, true, true, false, false]);
    expect(executor.started).toEqual(['a', 'b', 'c']);
    // With a budget the windows run in turn, in one workflow id, rather than as child partitions.
    const firstRun = await client.workflow
      .getHandle(handle.workflowId, handle.firstExecutionRunId)
      .describe();
    expect(firstRun.status.name).toBe('CONTINUED_AS_NEW');
  });
});

test('refusals: a budget on a run that would be split into children; a bad setBudget', async () => {
  const gate = new GateExecutor(costly(), () => true);
  await withWorker({ executor: gate }, async ({ client, taskQueue }) => {
    const split = client.workflow.execute('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('budget-split'),
      args: [{ specs: ids('a', 'b', 'c'), maxStepsPerRun: 2, budget: { maxSteps: 3 } }],
    });
    await expect(split).rejects.toMatchObject({
      cause: {
        message: expect.stringMatching(
          /^invalid input: budget: a budget binds one workflow execution, and this run \(3 steps\) would be split/,
        ),
      },
    });
    const workflowId = uniqueId('budget-bad-update');
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId,
      args: [{ specs: ids('a'), budget: { maxSteps: 3 } }],
    });
    await expect(updateFromCli(workflowId, 'setBudget', { maxSteps: -1 })).rejects.toThrow(
      /setBudget: maxSteps: Number must be greater than 0/,
    );
    gate.release('a');
    await handle.result();
  });
});
