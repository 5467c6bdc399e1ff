import { ScriptExecutor } from '../../src/executors/script';
import { RecordingExecutor } from '../support/recording-executor';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const spec = (taskId: string, agent = 'explore', prompt = `do ${taskId}`) => ({
  taskId,
  agent,
  description: '',
  prompt,
});

describe('parallelWorkflow on the dev server', () => {
  test('returns one outcome per spec in input order; a crashing step fails alone', async () => {
    const executor = new RecordingExecutor(
      new ScriptExecutor({ tasks: { b: { delayMs: 300 }, boom: { throw: 'executor exploded' } } }),
    );
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const result = await client.workflow.execute('parallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('parallel'),
        args: [{ specs: [spec('a'), spec('b'), spec('boom'), spec('c')] }],
      });
      expect(result.map((o: { taskId: string }) => o.taskId)).toEqual(['a', 'b', 'boom', 'c']);
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
});
