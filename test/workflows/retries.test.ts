/**
 * Retries wait out real backoff intervals (minutes here, as in production),
 * so these run on the time-skipping test server.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import type { Progress } from '../../src/workflows/lib';
import { RecordingExecutor } from '../support/recording-executor';
import { spec } from '../support/specs';
import { uniqueId, timeSkippingWorker } from '../support/temporal';

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: process.env.TEMPORAL_TEST_SERVER_PATH! } },
  });
});
afterAll(() => env?.teardown());

async function run<T>(
  workflowType: string,
  input: unknown,
  executor: RecordingExecutor,
): Promise<{ result: T; progress: Progress }> {
  const { worker, taskQueue } = await timeSkippingWorker(env, executor, 'retries');
  return worker.runUntil(async () => {
    const handle = await env.client.workflow.start(workflowType, {
      taskQueue,
      workflowId: uniqueId(workflowType),
      args: [input],
    });
    const result = (await handle.result()) as T;
    return { result, progress: await handle.query<Progress>('progress') };
  });
}

// A minute between attempts: only time skipping makes this test quick.
const stepPolicy = { initialRetryIntervalMs: 60_000, maximumAttempts: 4 };

describe('step retries (time-skipping server)', () => {
  test('transient failures retry under the policy, then the step succeeds; progress shows the attempt', async () => {
    const executor = new RecordingExecutor(new ScriptExecutor({ tasks: { flaky: { failAttempts: 2 } } }));
    const { result, progress } = await run<StepOutcome[]>(
      'parallelWorkflow',
      { specs: [spec('flaky'), spec('steady')], stepPolicy },
      executor,
    );
    expect(result.map((o) => o.success)).toEqual([true, true]);
    expect(executor.runs('flaky')).toBe(3);
    expect(executor.runs('steady')).toBe(1);
    expect(progress.steps.find((s) => s.taskId === 'flaky')).toMatchObject({
      status: 'succeeded',
      attempt: 3,
    });
  });

  test('a step failing past its attempts becomes StepOutcome.failed (parallel, resumable) and null (pipeline)', async () => {
    const failing = () =>
      new RecordingExecutor(new ScriptExecutor({ tasks: { down: { failAttempts: 99 } } }));
    const parallel = failing();
    const { result, progress } = await run<StepOutcome[]>(
      'parallelWorkflow',
      { specs: [spec('down'), spec('up')], stepPolicy },
      parallel,
    );
    expect(result[0]).toMatchObject({
      taskId: 'down',
      success: false,
      output: 'scripted transient failure on attempt 4 of down',
    });
    expect(result[1]).toMatchObject({ taskId: 'up', success: true });
    expect(parallel.runs('down')).toBe(4);
    expect(progress.steps[0]).toMatchObject({ status: 'failed', attempt: 4 });

    const resumable = await run<StepOutcome[]>(
      'resumableParallelWorkflow',
      { specs: [spec('down'), spec('up')], stepPolicy },
      failing(),
    );
    expect(resumable.result.map((o) => o.success)).toEqual([false, true]);

    const pipeline = await run<(StepOutcome | null)[]>(
      'pipelineWorkflow',
      {
        items: ['down', 'up'],
        stages: [{ taskId: '{{item}}', agent: 'explore', prompt: '{{item}}' }],
        stepPolicy,
      },
      failing(),
    );
    expect(pipeline.result[0]).toBeNull();
    expect(pipeline.result[1]).toMatchObject({ taskId: 'up', success: true });
    expect(pipeline.progress.steps[0]).toMatchObject({ status: 'failed', attempt: 4 });
  });
});
