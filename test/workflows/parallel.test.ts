import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { RecordingExecutor } from '../support/recording-executor';
import { spec, taskIds } from '../support/specs';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

describe('parallelWorkflow on the dev server', () => {
  test('returns one outcome per spec in input order; a crashing step fails alone', async () => {
    const executor = new RecordingExecutor(
      new ScriptExecutor({ tasks: { b: { delayMs: 300 }, boom: { throw: 'executor exploded' } } }),
    );
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const result: StepOutcome[] = await client.workflow.execute('parallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('parallel'),
        args: [{ specs: [spec('a'), spec('b'), spec('boom'), spec('c')] }],
      });
      expect(taskIds(result)).toEqual(['a', 'b', 'boom', 'c']);
      expect(result[0]).toMatchObject({ success: true, output: 'do a', sessionId: 'task-run-a' });
      expect(result[2]).toMatchObject({
        success: false,
        output: 'executor exploded',
        error: 'executor exploded',
      });
      expect(result[3]).toMatchObject({ success: true, output: 'do c' });
      expect(executor.runs('boom')).toBe(1); // non-retryable: ran once
    });
  });

  test('empty specs → empty result, no activity scheduled (SPEC 7)', async () => {
    await withWorker({ executor: new ScriptExecutor() }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('parallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('parallel-empty'),
        args: [{ specs: [] }],
      });
      expect(await handle.result()).toEqual([]);
      const { events } = await handle.fetchHistory();
      expect(events!.filter((e) => e.activityTaskScheduledEventAttributes)).toHaveLength(0);
    });
  });

  test('a zero concurrency hint still makes progress, serially and in order (SPEC 8)', async () => {
    const executor = new RecordingExecutor(new ScriptExecutor({ concurrency: 0, default: { delayMs: 50 } }));
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const specs = ['a', 'b', 'c', 'd', 'e'].map((id) => spec(id));
      const result: StepOutcome[] = await client.workflow.execute('parallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('parallel-zero'),
        args: [{ specs }],
      });
      expect(taskIds(result)).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(executor.started).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(executor.peak).toBe(1);

      // The same for pipeline chains: one chain at a time, in item order.
      executor.started.length = 0;
      await client.workflow.execute('pipelineWorkflow', {
        taskQueue,
        workflowId: uniqueId('pipeline-zero'),
        args: [
          {
            items: ['x', 'y'],
            stages: [
              { taskId: 's0-{{item}}', agent: 'explore', prompt: '{{item}}' },
              { taskId: 's1-{{item}}', agent: 'review', prompt: '{{prev.output}}' },
            ],
          },
        ],
      });
      expect(executor.started).toEqual(['s0-x', 's1-x', 's0-y', 's1-y']);
    });
  });

  test('an explicit concurrency overrides the hint and bounds steps in flight', async () => {
    const executor = new RecordingExecutor(new ScriptExecutor({ concurrency: 1, default: { delayMs: 200 } }));
    await withWorker({ executor, concurrency: 8 }, async ({ client, taskQueue }) => {
      await client.workflow.execute('parallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('parallel-limit'),
        args: [{ specs: Array.from({ length: 9 }, (_, i) => spec(`s${i}`)), concurrency: 3 }],
      });
      expect(executor.peak).toBe(3);
    });
  });

  test.each([
    [{ specs: [{ agent: 'explore', prompt: 'p' }] }, 'specs.0.taskId'],
    [{ specs: [{ taskId: 'a', agent: '', prompt: 'p' }] }, 'specs.0.agent'],
    [{ specs: [], concurrency: -1 }, 'concurrency'],
    [{ specs: [], extra: true }, 'extra'],
    [
      { specs: [{ taskId: 'a', agent: 'explore', prompt: 'p', maxStep: 3 }] },
      "specs.0: Unrecognized key(s) in object: 'maxStep'",
    ],
    ['not an object', '(root)'],
  ])('bad input %j fails at once, non-retryable, naming %s', async (input, field) => {
    await withWorker({ executor: new ScriptExecutor() }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('parallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('parallel-bad'),
        args: [input],
      });
      await expect(handle.result()).rejects.toMatchObject({
        cause: { type: 'InvalidInput', nonRetryable: true, message: expect.stringContaining(field) },
      });
      // Failed by the first workflow task, not retried: exactly one task completed, none failed.
      const { events } = await handle.fetchHistory();
      expect(events!.filter((e) => e.workflowTaskFailedEventAttributes)).toHaveLength(0);
      expect(events!.filter((e) => e.workflowTaskCompletedEventAttributes)).toHaveLength(1);
    });
  });
});
