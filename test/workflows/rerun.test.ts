import type { Client } from '@temporalio/client';
import { RERUN_OF_MEMO, type RunSpec, rerunRun } from '../../src/client';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import type { Progress } from '../../src/workflows/lib';
import { RecordingExecutor } from '../support/recording-executor';
import { spec } from '../support/specs';
import { temporalCli } from '../support/temporal-cli';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

type Outcomes = (StepOutcome | null)[];

const explore = { taskId: 'explore-{{index}}', agent: 'explore', prompt: 'explore {{item}}' };
const review = { taskId: 'review-{{index}}', agent: 'review', prompt: 'review <{{prev.output}}>' };
const verify = { taskId: 'verify-{{index}}', agent: 'verify', prompt: 'verify <{{prev.output}}>' };
const items = ['a.ts', 'b.ts', 'c.ts'];
/** What a rerun with an edited stage 2 runs again: stages 2 and 3 of every item, nothing of stage 1. */
const STAGES_2_AND_3 = ['review', 'verify'].flatMap((stage) => items.map((_, index) => `${stage}-${index}`));

const pipeline = (stages: (typeof explore)[], extra: object = {}): RunSpec => ({
  workflow: 'pipeline',
  input: { items, stages, ...extra },
});

/** What each task id ran since `before` (a count of executor starts). */
const startsSince = (executor: RecordingExecutor, before: number) => executor.started.slice(before).sort();

const progressOf = (client: Client, workflowId: string) =>
  client.workflow.getHandle(workflowId).query<Progress>('progress');

describe('rerun on the dev server', () => {
  test('a pipeline rerun with an edited stage-2 prompt runs stages 2 and 3 again, and gives what a fresh run gives', async () => {
    const executor = new RecordingExecutor(new ScriptExecutor({}));
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const first = await client.workflow.start('pipelineWorkflow', {
        taskQueue,
        workflowId: uniqueId('rerun-source'),
        args: [pipeline([explore, review, verify]).input],
      });
      await first.result();
      expect(executor.started).toHaveLength(9);

      const edited = { ...review, prompt: 'review carefully <{{prev.output}}>' };
      const before = executor.started.length;
      // The budget allows the six steps that run again: reused ones must cost nothing against it.
      const rerun = await rerunRun(client, first.workflowId, {
        spec: pipeline([explore, edited, verify], { budget: { maxSteps: 6 } }),
        taskQueue,
      });
      const result: Outcomes = await rerun.handle.result();
      expect(startsSince(executor, before)).toEqual(STAGES_2_AND_3);

      const fresh: Outcomes = await client.workflow.execute('pipelineWorkflow', {
        taskQueue,
        workflowId: uniqueId('rerun-fresh'),
        args: [pipeline([explore, edited, verify]).input],
      });
      expect(result).toEqual(fresh);
      expect(result[0]!.output).toBe('verify <review carefully <explore a.ts>>');

      const progress = await progressOf(client, rerun.handle.workflowId);
      expect(progress.rerunOf).toBe(first.workflowId);
      expect(progress.totals).toMatchObject({ reused: 3, succeeded: 6 });
      expect(progress.steps.filter((s) => s.status === 'reused')).toEqual(
        items.map((_, index) =>
          expect.objectContaining({ taskId: `explore-${index}`, reusedFrom: first.workflowId }),
        ),
      );
      expect(progress.budget?.spent.steps).toBe(6);
      const { memo } = await rerun.handle.describe();
      expect(memo).toEqual({ [RERUN_OF_MEMO]: first.workflowId });
      // Reused steps start no activity; the Temporal CLI shows them in the run's current details.
      const metadata = await temporalCli(['workflow', 'metadata', '--workflow-id', rerun.handle.workflowId]);
      expect(metadata.stdout).toContain(`Rerun of ${first.workflowId}.`);
      expect(metadata.stdout).toContain(`3 reused from ${first.workflowId}: explore-0, explore-1, explore-2`);
    });
  });

  test('a pipeline split into child runs reruns its chains from the changed stage, in child runs too', async () => {
    const executor = new RecordingExecutor(new ScriptExecutor({}));
    // One item's three stages per child run.
    const split = (stages: (typeof explore)[]) => pipeline(stages, { maxStepsPerRun: 3 });
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const first = await client.workflow.start('pipelineWorkflow', {
        taskQueue,
        workflowId: uniqueId('rerun-split'),
        args: [split([explore, review, verify]).input],
      });
      await first.result();
      const progress = await progressOf(client, first.workflowId);
      expect(progress.partitions).toHaveLength(3);

      const before = executor.started.length;
      const edited = { ...review, prompt: 'review again <{{prev.output}}>' };
      const rerun = await rerunRun(client, first.workflowId, {
        spec: split([explore, edited, verify]),
        taskQueue,
      });
      const result: Outcomes = await rerun.handle.result();
      expect(startsSince(executor, before)).toEqual(STAGES_2_AND_3);
      expect(result.map((o) => o?.output)).toEqual(
        items.map((item) => `verify <review again <explore ${item}>>`),
      );
    });
  });

  test('--set edits a parallel step, --from forces a step and those after it; a failed run reruns too', async () => {
    const executor = new RecordingExecutor(
      new ScriptExecutor({ tasks: { d: { success: false, output: 'red' } } }),
    );
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const first = await client.workflow.start('parallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('rerun-parallel'),
        args: [{ specs: [spec('a'), spec('b'), spec('c'), spec('d')] }],
      });
      await first.result();

      let before = executor.started.length;
      const edited = await rerunRun(client, first.workflowId, { set: ['b.prompt=do b again'], taskQueue });
      const outcomes: StepOutcome[] = await edited.handle.result();
      // The failed step runs again: only successes are reused.
      expect(startsSince(executor, before)).toEqual(['b', 'd']);
      expect(outcomes.map((o) => o.output)).toEqual(['do a', 'do b again', 'do c', 'red']);

      // A rerun of the rerun still reuses what the first run lent it.
      before = executor.started.length;
      const forced = await rerunRun(client, edited.handle.workflowId, { from: 'b', taskQueue });
      await forced.handle.result();
      expect(startsSince(executor, before)).toEqual(['b', 'c', 'd']);
      const progress = await progressOf(client, forced.handle.workflowId);
      expect(progress.steps.find((s) => s.taskId === 'a')).toMatchObject({
        status: 'reused',
        reusedFrom: first.workflowId,
      });
    });
  });

  test("a resumable rerun runs only its failed and changed steps, and leaves the old run's checkpoint alone", async () => {
    const executor = new RecordingExecutor(
      new ScriptExecutor({ tasks: { red: { success: false, output: 'red' } } }),
    );
    await withWorker({ executor }, async ({ client, taskQueue, store }) => {
      const first = await client.workflow.start('resumableParallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('rerun-resumable'),
        args: [{ specs: [spec('a'), spec('red'), spec('b')] }],
      });
      await first.result();
      // A failed step keeps the run's checkpoint, for a resume of the same run.
      const kept = await store.load(first.workflowId);
      expect(kept?.steps.map((step) => step.taskId).sort()).toEqual(['a', 'b']);

      const before = executor.started.length;
      const rerun = await rerunRun(client, first.workflowId, { set: ['b.prompt=do b better'], taskQueue });
      const outcomes: StepOutcome[] = await rerun.handle.result();
      expect(startsSince(executor, before)).toEqual(['b', 'red']);
      expect(outcomes.map((o) => o.output)).toEqual(['do a', 'red', 'do b better']);
      expect(await store.load(first.workflowId)).toEqual(kept);
    });
  });

  test('a loop reruns from its first changed round', async () => {
    const executor = new RecordingExecutor(new ScriptExecutor({}));
    const loop = (initialPrompt: string): RunSpec => ({
      workflow: 'loop',
      input: {
        initial: [spec('fix', 'explore', initialPrompt)],
        maxIterations: 3,
        // Each round in its own execution: what is left to reuse carries across continue-as-new.
        roundsPerRun: 1,
        next: {
          specs: [{ taskId: 'fix', agent: 'explore', prompt: 'round {{round}} after {{outcomes.0.output}}' }],
        },
      },
    });
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const first = await client.workflow.start('loopWorkflow', {
        taskQueue,
        workflowId: uniqueId('rerun-loop'),
        args: [loop('start').input],
      });
      await first.result();
      expect(executor.runs('fix')).toBe(3);

      const unchanged = await rerunRun(client, first.workflowId, { taskQueue });
      expect(await unchanged.handle.result()).toEqual(await first.result());
      expect(executor.runs('fix')).toBe(3);

      const edited = await rerunRun(client, first.workflowId, { spec: loop('begin'), taskQueue });
      await edited.handle.result();
      expect(executor.runs('fix')).toBe(6);
    });
  });

  test('bad reruns say what is wrong and start nothing', async () => {
    const executor = new ScriptExecutor({});
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const first = await client.workflow.start('parallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('rerun-bad'),
        args: [{ specs: [spec('a')] }],
      });
      await first.result();
      await expect(rerunRun(client, first.workflowId, { set: ['zz.prompt=x'] })).rejects.toThrow(
        /no step or stage has task id zz; the parallel run has a/,
      );
      await expect(rerunRun(client, first.workflowId, { set: ['a.taskId=x'] })).rejects.toThrow(
        /taskId cannot be set/,
      );
      await expect(rerunRun(client, first.workflowId, { from: 'nope' })).rejects.toThrow(
        /--from nope: .* has no succeeded step with that task id/,
      );
      await expect(rerunRun(client, first.workflowId, { spec: pipeline([explore]) })).rejects.toThrow(
        /is a parallel run and the spec describes a pipeline run/,
      );

      // A run still going has steps yet to finish: it is refused until it closes.
      const waiting = await client.workflow.start('parallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('rerun-running'),
        args: [{ specs: [{ ...spec('held'), approval: { before: true } }] }],
      });
      await expect(rerunRun(client, waiting.workflowId)).rejects.toThrow(
        `${waiting.workflowId} is still running; wait for it or cancel it, then rerun it`,
      );
      await waiting.cancel();
    });
  });
});
