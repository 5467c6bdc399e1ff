/**
 * A pipeline whose items a plan step decides at run time: each element of the
 * list in its structured output runs its own chain of stages.
 */
import { WorkflowFailedError } from '@temporalio/client';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor, type ScriptFile } from '../../src/executors/script';
import type { Progress } from '../../src/workflows/lib';
import { RecordingExecutor } from '../support/recording-executor';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const files = (n: number) => Array.from({ length: n }, (_, i) => ({ path: `src/f${i}.ts` }));

function planning(planned: unknown, success = true): ScriptFile {
  return {
    agents: {
      plan: { output: 'planned', structured: planned, success },
      review: { output: 'reviewed {{prompt}}' },
    },
  };
}

const input = (maxItems?: number) => ({
  plan: {
    step: { taskId: 'plan', agent: 'plan', prompt: 'list the files to review' },
    forEach: 'structured.files',
    ...(maxItems !== undefined ? { maxItems } : {}),
  },
  stages: [
    { taskId: 'read-{{index}}', agent: 'explore', prompt: '{{item.path}}' },
    { taskId: 'review-{{index}}', agent: 'review', prompt: '{{prev.output}}' },
  ],
});

async function runPlanned(script: ScriptFile, maxItems?: number) {
  const executor = new RecordingExecutor(new ScriptExecutor(script));
  return withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('pipelineWorkflow', {
      taskQueue,
      workflowId: uniqueId('plan'),
      args: [input(maxItems)],
    });
    const result = await handle.result().then(
      (value: (StepOutcome | null)[]) => ({ value }),
      (error: unknown) => ({ error }),
    );
    return { result, executor, progress: await handle.query<Progress>('progress') };
  });
}

test('each item the plan lists runs its own chain, after the plan step', async () => {
  const { result, executor, progress } = await runPlanned(planning({ files: files(3) }));
  expect('value' in result && result.value.map((o) => o!.output)).toEqual([
    'reviewed src/f0.ts',
    'reviewed src/f1.ts',
    'reviewed src/f2.ts',
  ]);
  expect(executor.started[0]).toBe('plan');
  expect(executor.started).toHaveLength(7);
  expect(progress.steps[0]).toMatchObject({ taskId: 'plan', status: 'succeeded' });
  expect(progress.totals.succeeded).toBe(7);
});

test('a plan that names no items ends cleanly, with no chain run', async () => {
  for (const planned of [{ files: [] }, {}]) {
    const { result, executor } = await runPlanned(planning(planned));
    expect(result).toEqual({ value: [] });
    expect(executor.started).toEqual(['plan']);
  }
});

test('a plan that names too many items fails the run, naming the limit', async () => {
  const { result, executor } = await runPlanned(planning({ files: files(4) }), 3);
  expect('error' in result && result.error).toBeInstanceOf(WorkflowFailedError);
  const cause = (result as { error: WorkflowFailedError }).error.cause!;
  expect(cause.message).toBe(
    "invalid input: plan step plan's structured.files names 4 items, over plan.maxItems 3; raise it or plan fewer",
  );
  expect(executor.started).toEqual(['plan']);
});

test('a failed plan step fails the run, naming the step and why; a plan of the wrong shape too', async () => {
  const failed = await runPlanned(planning({ files: files(2) }, false));
  expect((failed.result as { error: WorkflowFailedError }).error.cause!.message).toBe(
    'plan step plan failed, so the pipeline has no items: planned',
  );
  const wrong = await runPlanned(planning({ files: 'src/a.ts' }));
  expect((wrong.result as { error: WorkflowFailedError }).error.cause!.message).toBe(
    "invalid input: plan step plan's structured.files is string, not a list; point plan.forEach at a list",
  );
});

test('a pipeline input gives items or a plan, not both or neither', async () => {
  await withWorker({ executor: new ScriptExecutor() }, async ({ client, taskQueue }) => {
    for (const bad of [{ ...input(), items: [1] }, { stages: input().stages }]) {
      const run = client.workflow.execute('pipelineWorkflow', {
        taskQueue,
        workflowId: uniqueId('plan-bad'),
        args: [bad],
      });
      await expect(run).rejects.toMatchObject({
        cause: {
          message:
            'invalid input: items: give either "items" or a "plan" that decides them, not both or neither',
        },
      });
    }
  });
});
