/**
 * Loops on the dev server: the library's `executeLoop` in a user's workflow
 * (a `next` function), and `loopWorkflow`, its JSON form, with templated
 * rounds, an `until` condition, the hard cap, and continue-as-new between
 * rounds.
 */
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import type { Progress } from '../../src/workflows/lib';
import { RecordingExecutor } from '../support/recording-executor';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const failing = (...taskIds: string[]) =>
  new RecordingExecutor(
    new ScriptExecutor({
      tasks: Object.fromEntries(taskIds.map((id) => [id, { success: false, output: 'still broken' }])),
    }),
  );

describe('executeLoop in a user workflow', () => {
  test('each round retries what failed in the one before, until nothing fails', async () => {
    const executor = failing('a-r1', 'b-r1', 'b-r2');
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const result: StepOutcome[] = await client.workflow.execute('retryFailuresWorkflow', {
        taskQueue,
        workflowId: uniqueId('loop-lib'),
        args: [{ items: ['a', 'b', 'c'], maxIterations: 5 }],
      });
      // The last round's outcomes, as a3s returns them.
      expect(result.map((o) => [o.taskId, o.success])).toEqual([['b-r3', true]]);
      expect(executor.started.sort()).toEqual(['a-r1', 'a-r2', 'b-r1', 'b-r2', 'b-r3', 'c-r1']);
    });
  });

  test('maxIterations is a hard cap: the loop stops there, whatever next says', async () => {
    const executor = failing('a-r1', 'a-r2', 'a-r3', 'a-r4');
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('retryFailuresWorkflow', {
        taskQueue,
        workflowId: uniqueId('loop-cap'),
        args: [{ items: ['a'], maxIterations: 3 }],
      });
      const result: StepOutcome[] = await handle.result();
      expect(result.map((o) => [o.taskId, o.success])).toEqual([['a-r3', false]]);
      expect(executor.started).toEqual(['a-r1', 'a-r2', 'a-r3']);
      expect((await handle.query<Progress>('progress')).loop).toEqual({ round: 3, maxIterations: 3 });
    });
  });
});

describe('loopWorkflow', () => {
  const reviewLoop = {
    initial: [{ taskId: 'draft', agent: 'general', prompt: 'draft it' }],
    next: {
      specs: [
        { taskId: 'review-{{round}}', agent: 'review', prompt: 'round {{round}} on: {{outcomes.0.output}}' },
      ],
    },
    until: { some: { field: 'structured.verdict', equals: 'approve' } },
    maxIterations: 6,
  };
  const approvesAtRound3 = () =>
    new RecordingExecutor(
      new ScriptExecutor({ tasks: { 'review-3': { output: 'LGTM', structured: { verdict: 'approve' } } } }),
    );

  test('rounds are built from the previous outcomes and stop when until holds', async () => {
    const executor = approvesAtRound3();
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const result: StepOutcome[] = await client.workflow.execute('loopWorkflow', {
        taskQueue,
        workflowId: uniqueId('loop-json'),
        args: [reviewLoop],
      });
      expect(result).toMatchObject([
        { taskId: 'review-3', output: 'LGTM', structured: { verdict: 'approve' } },
      ]);
      expect(executor.started).toEqual(['draft', 'review-2', 'review-3']);
    });
  });

  test('with roundsPerRun 1 every round is its own execution, chained by continue-as-new', async () => {
    const executor = approvesAtRound3();
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const workflowId = uniqueId('loop-can');
      const handle = await client.workflow.start('loopWorkflow', {
        taskQueue,
        workflowId,
        args: [{ ...reviewLoop, roundsPerRun: 1 }],
      });
      const result: StepOutcome[] = await handle.result();
      expect(result.map((o) => o.taskId)).toEqual(['review-3']);
      const executions = [];
      for await (const run of client.workflow.list({ query: `WorkflowId = "${workflowId}"` }))
        executions.push(run);
      expect(executions).toHaveLength(3);
      // The last execution ran round 3; round 2's prompt was built from round 1's outcome.
      expect((await handle.query<Progress>('progress')).loop).toEqual({ round: 3, maxIterations: 6 });
      expect(executor.started).toEqual(['draft', 'review-2', 'review-3']);
    });
  });

  test.each([
    [
      'a zero cap',
      { maxIterations: 0 },
      /^invalid input: maxIterations: Number must be greater than or equal to 1/,
    ],
    [
      'a broken template',
      { next: { specs: [{ taskId: 'r', agent: 'a', prompt: '{{#outcomes}}' }] } },
      /^invalid input: next\.specs\.0\.prompt: bad template/,
    ],
    [
      'an until with both every and some',
      { until: { every: { field: 'success', equals: true }, some: { field: 'success', equals: true } } },
      /^invalid input: until: give exactly one of "every" or "some"/,
    ],
  ])('refuses %s before running anything', async (_, change, message) => {
    const executor = approvesAtRound3();
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const run = client.workflow.execute('loopWorkflow', {
        taskQueue,
        workflowId: uniqueId('loop-bad'),
        args: [{ ...reviewLoop, ...change }],
      });
      await expect(run).rejects.toMatchObject({ cause: { message: expect.stringMatching(message) } });
      expect(executor.started).toEqual([]);
    });
  });
});
