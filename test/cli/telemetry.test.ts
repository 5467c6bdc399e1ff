/**
 * A real `tao worker` process's telemetry: with `--metrics` it serves
 * Prometheus metrics, Temporal Core's and TAO's, scraped over HTTP after a run
 * whose steps succeed, fail, crash and retry, and run into a budget; with
 * `TAO_LOG_FORMAT=json` its logs are JSON lines naming the step.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { StepOutcome } from '../../src/contracts';
import { startTao, stopTaoProcesses, tao } from '../support/cli';
import { closeDevClient, devClient, devServerAddress, uniqueId } from '../support/temporal';
import { useTempDir } from '../support/temp-dir';

afterAll(async () => {
  await stopTaoProcesses();
  await closeDevClient();
});

const dir = useTempDir('tao-metrics');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The value of `name` summed over its series whose labels include `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-z_0-9]+)(?:\{([^}]*)\})? ([0-9.e+-]+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    if (Object.entries(labels).every(([key, value]) => (match[2] ?? '').includes(`${key}="${value}"`))) {
      total += Number(match[3]);
    }
  }
  return total;
}

test('steps started, succeeded, failed, crashed and retried, tokens, durations, budget exhaustions, and Core metrics', async () => {
  const script = join(dir(), 'script.json');
  writeFileSync(
    script,
    JSON.stringify({
      tasks: {
        a: { usage: { inputTokens: 100, outputTokens: 20, model: 'm1', latencyMs: 1 } },
        b: { success: false, output: 'broken' },
        c: { failAttempts: 1 },
      },
    }),
  );
  const port = await freePort();
  const taskQueue = uniqueId('metrics');
  const worker = startTao([
    'worker',
    '--address',
    devServerAddress(),
    '--task-queue',
    taskQueue,
    '--executor',
    `script:${script}`,
    '--store',
    'memory',
    '--metrics',
    `127.0.0.1:${port}`,
  ]);
  await worker.waitFor('worker polling task queue');
  const client = await devClient();
  const result: StepOutcome[] = await client.workflow.execute('parallelWorkflow', {
    taskQueue,
    workflowId: uniqueId('metrics'),
    args: [
      {
        specs: ['a', 'b', 'c', 'd'].map((id) => ({ taskId: id, agent: 'explore', prompt: id })),
        concurrency: 1,
        budget: { maxSteps: 3 },
        stepPolicy: { initialRetryIntervalMs: 100 },
      },
    ],
  });
  expect(result.map((o) => o.success)).toEqual([true, false, true, false]);
  // A resumable run journals its steps: one save, then a delete on success.
  await client.workflow.execute('resumableParallelWorkflow', {
    taskQueue,
    workflowId: uniqueId('metrics-resumable'),
    args: [{ specs: [{ taskId: 'a', agent: 'explore', prompt: 'a' }] }],
  });

  const scraped = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const explore = { agent: 'explore', taskQueue };
  expect(sample(scraped, 'tao_steps_started', explore)).toBe(5); // a, b, c twice; a of the resumable run
  expect(sample(scraped, 'tao_steps_retried', explore)).toBe(1);
  expect(sample(scraped, 'tao_steps_succeeded', explore)).toBe(3);
  expect(sample(scraped, 'tao_steps_failed', explore)).toBe(1);
  expect(sample(scraped, 'tao_steps_crashed', explore)).toBe(1);
  expect(sample(scraped, 'tao_tokens', { ...explore, model: 'm1', direction: 'input' })).toBe(200);
  expect(sample(scraped, 'tao_tokens', { ...explore, model: 'm1', direction: 'output' })).toBe(40);
  expect(sample(scraped, 'tao_step_duration_count', explore)).toBe(5);
  expect(sample(scraped, 'tao_checkpoint_saves', { taskQueue, result: 'saved' })).toBe(1);
  expect(sample(scraped, 'tao_budget_exhaustions', { taskQueue })).toBe(1);
  // Temporal Core's own, from the same endpoint.
  expect(
    sample(scraped, 'temporal_activity_execution_latency_count', { task_queue: taskQueue }),
  ).toBeGreaterThan(0);
  // The worker's event-loop delay, set every 5 s.
  let gauges = scraped;
  for (let wait = 0; wait < 30 && !/^tao_event_loop_delay_p99[{ ]/m.test(gauges); wait++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    gauges = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  }
  expect(sample(gauges, 'tao_event_loop_delay_p99')).toBeGreaterThan(0);
  expect(sample(gauges, 'tao_event_loop_delay_max')).toBeGreaterThanOrEqual(
    sample(gauges, 'tao_event_loop_delay_p99'),
  );
  await worker.stop();
});

test('a malformed --metrics address is one line and exit 2', async () => {
  const run = await tao(['worker', '--metrics', 'nine-four-six-four', '--address', devServerAddress()]);
  expect(run).toMatchObject({
    code: 2,
    stderr: 'tao: --metrics takes host:port (e.g. 127.0.0.1:9464), got "nine-four-six-four"\n',
  });
});

test('TAO_LOG_FORMAT=json: worker logs are JSON lines carrying workflowId, taskId and attempt', async () => {
  const script = join(dir(), 'script.json');
  writeFileSync(script, JSON.stringify({ tasks: { flaky: { failAttempts: 1 } } }));
  const taskQueue = uniqueId('json-logs');
  const worker = startTao(
    ['worker', '--address', devServerAddress(), '--task-queue', taskQueue, '--executor', `script:${script}`],
    { env: { TAO_LOG_FORMAT: 'json', TAO_LOG_LEVEL: 'INFO' } },
  );
  await worker.waitFor('worker polling task queue');
  const workflowId = uniqueId('json-logs');
  await (
    await devClient()
  ).workflow.execute('parallelWorkflow', {
    taskQueue,
    workflowId,
    args: [
      {
        specs: [{ taskId: 'flaky', agent: 'explore', prompt: 'p' }],
        stepPolicy: { initialRetryIntervalMs: 100 },
      },
    ],
  });
  await worker.waitFor(/"message":"step succeeded"/);
  await worker.stop();
  const lines = worker
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const steps = lines
    .filter((line) => line.workflowId === workflowId && 'taskId' in line) // TAO's step lines; the SDK adds its own
    .map(({ level, message, taskId, attempt }) => ({ level, message, taskId, attempt }));
  expect(steps).toEqual([
    { level: 'INFO', message: 'step started', taskId: 'flaky', attempt: 1 },
    { level: 'WARN', message: 'step attempt crashed', taskId: 'flaky', attempt: 1 },
    { level: 'INFO', message: 'step started', taskId: 'flaky', attempt: 2 },
    { level: 'INFO', message: 'step succeeded', taskId: 'flaky', attempt: 2 },
  ]);
  expect(lines.every((line) => typeof line.time === 'string' && typeof line.level === 'string')).toBe(true);

  const bad = await tao(['worker', '--address', devServerAddress()], { env: { TAO_LOG_FORMAT: 'xml' } });
  expect(bad).toMatchObject({ code: 2, stderr: 'tao: invalid TAO_LOG_FORMAT "xml"; use text or json\n' });
});
