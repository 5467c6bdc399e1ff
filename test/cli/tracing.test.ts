/**
 * OpenTelemetry traces from real processes: a `tao worker` and a `tao run`
 * against the dev server, each exporting by OTLP/HTTP (the worker as
 * protobuf, the default; the CLI as JSON) to a receiver started here. One
 * trace runs from the client's start through the workflow to every step.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTao, stopTaoProcesses, tao } from '../support/cli';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '../support/otlp-receiver';
import { closeDevClient, devServerAddress, uniqueId } from '../support/temporal';
import { useTempDir } from '../support/temp-dir';

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await stopTaoProcesses();
  await closeDevClient();
  await receiver?.close();
});

const dir = useTempDir('tao-tracing');
const SECRET = 'Bearer otlp-secret-4f1c';

test('a span per workflow and per step, linked client → workflow → activity, exported by OTLP', async () => {
  const script = join(dir(), 'script.json');
  writeFileSync(
    script,
    JSON.stringify({
      tasks: { b: { usage: { inputTokens: 7, outputTokens: 3, model: 'm1', latencyMs: 1 } } },
    }),
  );
  const taskQueue = uniqueId('tracing');
  const otel = {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_HEADERS: `authorization=${SECRET}`,
  };
  const worker = startTao(
    ['worker', '--address', devServerAddress(), '--task-queue', taskQueue, '--executor', `script:${script}`],
    { env: { ...otel, OTEL_SERVICE_NAME: 'tao-worker' } },
  );
  await worker.waitFor('worker polling task queue', 60_000);
  const specFile = join(dir(), 'run.json');
  writeFileSync(
    specFile,
    JSON.stringify({
      workflow: 'parallel',
      taskQueue,
      input: { specs: ['a', 'b', 'c'].map((id) => ({ taskId: id, agent: 'explore', prompt: id })) },
    }),
  );
  const run = await tao(['run', specFile, '--address', devServerAddress()], {
    env: { ...otel, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_SERVICE_NAME: 'tao-cli' },
  });
  expect(run.code).toBe(0);
  await worker.stop(); // flushes the worker's spans

  const spans = receiver.spans();
  const one = (name: string): ReceivedSpan => {
    const found = spans.filter((span) => span.name === name);
    expect(found).toHaveLength(1);
    return found[0]!;
  };
  const start = one('StartWorkflow:parallelWorkflow');
  expect(start).toMatchObject({ service: 'tao-cli', parentSpanId: '' });
  const workflow = one('RunWorkflow:parallelWorkflow');
  expect(workflow).toMatchObject({
    service: 'tao-worker',
    traceId: start.traceId,
    parentSpanId: start.spanId,
  });

  const scheduled = spans.filter((span) => span.name === 'StartActivity:executeAgentStep');
  const steps = spans.filter((span) => span.name === 'RunActivity:executeAgentStep');
  expect(scheduled).toHaveLength(3);
  expect(steps).toHaveLength(3);
  for (const span of scheduled)
    expect(span).toMatchObject({ traceId: start.traceId, parentSpanId: workflow.spanId });
  const scheduledIds = new Set(scheduled.map((span) => span.spanId));
  for (const span of steps) {
    expect(span.traceId).toBe(start.traceId);
    expect(scheduledIds.has(span.parentSpanId)).toBe(true);
  }
  const byTask = Object.fromEntries(steps.map((span) => [span.attributes['tao.task_id'], span.attributes]));
  expect(Object.keys(byTask).sort()).toEqual(['a', 'b', 'c']);
  expect(byTask.a).toMatchObject({ 'tao.agent': 'explore', 'tao.attempt': 1, 'tao.success': true });
  expect(byTask.b).toMatchObject({ 'tao.model': 'm1', 'tao.input_tokens': 7, 'tao.output_tokens': 3 });

  // Both encodings arrived, with the configured header; the header's value was printed nowhere.
  const types = receiver.contentTypes();
  expect(types).toContain('application/x-protobuf');
  expect(types).toContain('application/json');
  expect(new Set(receiver.authorizations())).toEqual(new Set([SECRET]));
  expect(worker.output() + run.stdout + run.stderr).not.toContain('otlp-secret');
}, 120_000);

test('an OTLP setting TAO cannot honour is one line naming it, exit 2, before anything connects', async () => {
  const grpc = await tao(['worker', '--address', devServerAddress()], {
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
  });
  expect(grpc).toMatchObject({
    code: 2,
    stderr:
      "tao: OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported; set it to http/protobuf or http/json (an OTLP collector's HTTP port, 4318)\n",
  });
  const zipkin = await tao(['status', 'nothing', '--address', devServerAddress()], {
    env: { OTEL_TRACES_EXPORTER: 'zipkin' },
  });
  expect(zipkin).toMatchObject({
    code: 2,
    stderr:
      'tao: OTEL_TRACES_EXPORTER=zipkin is not supported; TAO exports traces by OTLP: set it to otlp or none\n',
  });
});
