import type { Progress } from '../../src/workflows/lib';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { RecordingExecutor } from '../support/recording-executor';
import { taskIds } from '../support/specs';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const explore = { taskId: 'explore-{{index}}', agent: 'explore', prompt: 'explore {{item.path}}' };
const review = { taskId: 'review-{{index}}', agent: 'review', prompt: 'review of <{{prev.output}}>' };
const verify = { taskId: 'verify-{{index}}', agent: 'verify', prompt: 'verify <{{prev.output}}>' };

type Outcomes = (StepOutcome | null)[];

describe('pipelineWorkflow (declarative stages) on the dev server', () => {
  test('later stages see the prior stage output (SPEC 1)', async () => {
    const executor = new ScriptExecutor({ agents: { explore: { output: 'found {{prompt}}' } } });
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const result: Outcomes = await client.workflow.execute('pipelineWorkflow', {
        taskQueue,
        workflowId: uniqueId('pipeline-prev'),
        args: [{ items: [{ path: 'a.ts' }, { path: 'b.ts' }], stages: [explore, review, verify] }],
      });
      expect(taskIds(result)).toEqual(['verify-0', 'verify-1']);
      expect(result[0]!.output).toBe('verify <review of <found explore a.ts>>');
      expect(result[1]!.output).toBe('verify <review of <found explore b.ts>>');
    });
  });

  test('a chain stops on a failed step and on a stage returning nothing; first stage nothing → null (SPEC 2, 9)', async () => {
    const executor = new RecordingExecutor(
      new ScriptExecutor({
        tasks: { 'explore-1': { success: false, output: 'cannot read' } },
        agents: { review: { structured: { verdict: 'reject' }, output: 'rejected' } },
      }),
    );
    const gated = {
      ...verify,
      // Only approved reviews go on to verification.
      when: { field: 'prev.structured.verdict', equals: 'approve' },
    };
    const onlyAfterSuccess = { ...explore, when: { field: 'prev.success', equals: true } };
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const stops: Outcomes = await client.workflow.execute('pipelineWorkflow', {
        taskQueue,
        workflowId: uniqueId('pipeline-stops'),
        args: [{ items: ['x', 'y'], stages: [explore, review, gated] }],
      });
      // Item 0: review rejected, the gate ends the chain; its last outcome is the review.
      expect(stops[0]).toMatchObject({ taskId: 'review-0', output: 'rejected', success: true });
      // Item 1: explore failed, later stages never ran.
      expect(stops[1]).toMatchObject({ taskId: 'explore-1', success: false, error: 'cannot read' });
      expect(executor.started.sort()).toEqual(['explore-0', 'explore-1', 'review-0']);

      // A first stage whose condition fails (there is no prev) produces nothing: null.
      const nothing: Outcomes = await client.workflow.execute('pipelineWorkflow', {
        taskQueue,
        workflowId: uniqueId('pipeline-first-none'),
        args: [{ items: ['x'], stages: [onlyAfterSuccess, review] }],
      });
      expect(nothing).toEqual([null]);
    });
  });

  test('chains overlap across stages and never exceed the limit (SPEC 3)', async () => {
    // Item 0 is slow in its first stage; the others race through all three stages meanwhile.
    const executor = new RecordingExecutor(
      new ScriptExecutor({ default: { delayMs: 100 }, tasks: { 'explore-0': { delayMs: 2_000 } } }),
    );
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const result: Outcomes = await client.workflow.execute('pipelineWorkflow', {
        taskQueue,
        workflowId: uniqueId('pipeline-overlap'),
        args: [{ items: [0, 1, 2, 3], stages: [explore, review, verify], concurrency: 2 }],
      });
      expect(taskIds(result)).toEqual(['verify-0', 'verify-1', 'verify-2', 'verify-3']);
      const span = (taskId: string) => executor.spans.find((s) => s.taskId === taskId)!;
      // No barrier: item 1 finished its last stage while item 0 was still in its first.
      expect(span('verify-1').end).toBeLessThan(span('explore-0').end);
      expect(span('verify-2').start).toBeLessThan(span('explore-0').end);
      expect(executor.peak).toBe(2);
    });
  });

  test('empty items → empty result, no activity scheduled (SPEC 7)', async () => {
    await withWorker({ executor: new ScriptExecutor() }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('pipelineWorkflow', {
        taskQueue,
        workflowId: uniqueId('pipeline-empty'),
        args: [{ items: [], stages: [explore] }],
      });
      expect(await handle.result()).toEqual([]);
      const { events } = await handle.fetchHistory();
      expect(events!.filter((e) => e.activityTaskScheduledEventAttributes)).toHaveLength(0);
      // Not even the executor's concurrency hint was asked for (patch markers aside).
      const localActivities = events!.filter(
        (e) => e.markerRecordedEventAttributes && e.markerRecordedEventAttributes.markerName !== 'core_patch',
      );
      expect(localActivities).toHaveLength(0);
    });
  });

  test('a bad template fails the workflow at once, naming the field', async () => {
    await withWorker({ executor: new ScriptExecutor() }, async ({ client, taskQueue }) => {
      const run = client.workflow.execute('pipelineWorkflow', {
        taskQueue,
        workflowId: uniqueId('pipeline-bad-template'),
        args: [{ items: [1], stages: [{ ...review, prompt: 'review {{#prev}}' }] }],
      });
      await expect(run).rejects.toMatchObject({
        cause: {
          type: 'InvalidInput',
          nonRetryable: true,
          message: expect.stringContaining('stages.0.prompt'),
        },
      });
    });
  });
});

describe('executePipeline with stage functions, in a user workflow', () => {
  test('a throwing stage nulls only its own chain, with the reason in progress (SPEC 4, 9)', async () => {
    const executor = new RecordingExecutor(new ScriptExecutor());
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('reviewFilesWorkflow', {
        taskQueue,
        workflowId: uniqueId('review-files'),
        args: [
          [{ path: 'ok.ts' }, { path: 'bad.ts', throwAtStage: 1 }, { path: 'skip.ts', skipFirstStage: true }],
        ],
      });
      const result: Outcomes = await handle.result();
      expect(result[0]).toMatchObject({
        taskId: 'verify:ok.ts',
        output: 'verify review ok.ts',
        success: true,
      });
      expect(result[1]).toBeNull();
      expect(result[2]).toBeNull();
      expect(executor.started).not.toContain('review:bad.ts');

      const progress = await handle.query<Progress>('progress');
      const entry = (item: number, stage: number) =>
        progress.steps.find((s) => s.item === item && s.stage === stage);
      expect(entry(1, 1)).toMatchObject({ status: 'failed', error: 'stage 1 threw: cannot review bad.ts' });
      expect(entry(1, 2)).toMatchObject({ status: 'skipped' });
      expect(entry(2, 0)).toMatchObject({ status: 'skipped' });
      expect(progress.totals).toMatchObject({ succeeded: 4, failed: 1, skipped: 4, all: 9 });
    });
  });

  test('an executor crash nulls only its chain; the others finish', async () => {
    const executor = new ScriptExecutor({ tasks: { 'review:b.ts': { throw: 'agent runtime died' } } });
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const result: Outcomes = await client.workflow.execute('reviewFilesWorkflow', {
        taskQueue,
        workflowId: uniqueId('review-crash'),
        args: [[{ path: 'a.ts' }, { path: 'b.ts' }, { path: 'c.ts' }]],
      });
      expect(taskIds(result)).toEqual(['verify:a.ts', null, 'verify:c.ts']);
    });
  });
});
