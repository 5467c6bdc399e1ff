/**
 * OpenTelemetry traces from real processes: a `tao worker` and a `tao run`
 * against the dev server, each exporting by OTLP/HTTP (the worker as
 * protobuf, the default; the CLI as JSON) to a receiver started here. One
 * trace runs from the client's start through the workflow to every step.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTao, stopTaoProcesses, tao } from '../support/cli';
import type { FakeServer } from '../support/fake-http';
import { PROTOCOLS, type ProtocolHarness } from '../support/llm-harness';
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

describe('an llm step’s model and tool calls, as GenAI spans under the step’s span', () => {
  /** Planted where content could carry it: the provider's key, also in the prompt and in a file a tool reads. */
  const KEY = 'sk-planted-9d2e7f41c0';
  const [openai] = PROTOCOLS as [ProtocolHarness];
  const servers: FakeServer[] = [];
  afterEach(() => Promise.all(servers.splice(0).map((server) => server.close())));

  /**
   * Step `read` calls read_file once and answers; step `broken` gets a 400 from the model, a fake
   * server of `protocol`. The worker (with `flags`) traces as `service`; what comes back is its spans,
   * once it stopped.
   */
  async function tracedLlmRun(
    protocol: ProtocolHarness,
    service: string,
    flags: string[] = [],
  ): Promise<ReceivedSpan[]> {
    const server = await protocol.start();
    servers.push(server);
    const workspace = join(dir(), 'ws');
    mkdirSync(workspace);
    writeFileSync(join(workspace, 'notes.txt'), `deploy token: ${KEY}\n`);
    const config = join(dir(), 'llm.json');
    writeFileSync(
      config,
      JSON.stringify({
        provider: 'fake',
        model: 'fake-model',
        workspace,
        providers: {
          fake: { type: protocol.type, baseUrl: protocol.baseUrl(server), apiKeyEnv: 'TAO_TEST_MODEL_KEY' },
        },
      }),
    );
    server.reply(
      protocol.toolCalls([{ name: 'read_file', input: { path: 'notes.txt' } }], [12, 4]),
      protocol.text('The notes hold a deploy token.', [30, 6]),
      protocol.error(400, 'temperature is out of range'),
    );
    const taskQueue = uniqueId('genai');
    const executor = ['--executor', `llm:${config}`, ...flags];
    const worker = startTao(
      ['worker', '--address', devServerAddress(), '--task-queue', taskQueue, ...executor],
      {
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
          OTEL_SERVICE_NAME: service,
          TAO_TEST_MODEL_KEY: KEY,
        },
      },
    );
    await worker.waitFor('worker polling task queue', 60_000);
    const specFile = join(dir(), 'run.json');
    const prompt = (task: string) => `${task}; my key is ${KEY}`;
    writeFileSync(
      specFile,
      JSON.stringify({
        workflow: 'parallel',
        taskQueue,
        input: {
          concurrency: 1,
          specs: [
            { taskId: 'read', agent: 'explore', prompt: prompt('Summarise notes.txt') },
            { taskId: 'broken', agent: 'explore', prompt: prompt('Fail') },
          ],
        },
      }),
    );
    await tao(['run', specFile, '--address', devServerAddress()]);
    await worker.stop(); // flushes the worker's spans
    return receiver.spans().filter((span) => span.service === service);
  }

  const CONTENT = [
    'gen_ai.system_instructions',
    'gen_ai.input.messages',
    'gen_ai.output.messages',
    'gen_ai.tool.call.arguments',
    'gen_ai.tool.call.result',
  ];

  /** The step's spans, and its chat and tool spans, each checked to be the step span's children. */
  function stepSpans(spans: ReceivedSpan[], taskId: string) {
    const step = spans.find(
      (span) => span.name === 'RunActivity:executeAgentStep' && span.attributes['tao.task_id'] === taskId,
    )!;
    const children = spans.filter((span) => span.parentSpanId === step.spanId);
    for (const child of children) expect(child.traceId).toBe(step.traceId);
    const chats = children.filter((span) => span.name === 'chat fake-model');
    return { chats, tools: children.filter((span) => span.name.startsWith('execute_tool')) };
  }

  test.each(PROTOCOLS)(
    '$type: identities, tokens and finish reasons always; no content without --trace-content',
    async (protocol) => {
      const spans = await tracedLlmRun(protocol, `tao-genai-plain-${protocol.type}`);
      const read = stepSpans(spans, 'read');
      expect(read.chats).toHaveLength(2);
      const [first, second] = [...read.chats].sort(
        (a, b) =>
          Number(a.attributes['gen_ai.usage.input_tokens']) -
          Number(b.attributes['gen_ai.usage.input_tokens']),
      );
      const request = {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': protocol.type,
        'gen_ai.request.model': 'fake-model',
      };
      const chat = { ...request, 'gen_ai.response.model': 'fake-model' };
      expect(first).toMatchObject({
        kind: 3, // client
        status: { code: 0 },
        attributes: {
          ...chat,
          'gen_ai.usage.input_tokens': 12,
          'gen_ai.usage.output_tokens': 4,
          'gen_ai.response.finish_reasons': ['tool_calls'],
        },
      });
      expect(second!.attributes).toMatchObject({
        ...chat,
        'gen_ai.usage.input_tokens': 30,
        'gen_ai.usage.output_tokens': 6,
        'gen_ai.response.finish_reasons': ['stop'],
      });
      expect(read.tools).toHaveLength(1);
      expect(read.tools[0]).toMatchObject({
        name: 'execute_tool read_file',
        kind: 1, // internal
        status: { code: 0 },
        attributes: {
          'gen_ai.operation.name': 'execute_tool',
          'gen_ai.tool.name': 'read_file',
          'gen_ai.tool.call.id': protocol.type === 'openai' ? 'call_0' : 'toolu_0',
        },
      });

      // A model call that failed is an error span, with the failure's class and message.
      const broken = stepSpans(spans, 'broken');
      expect(broken.chats).toHaveLength(1);
      expect(broken.chats[0]).toMatchObject({
        status: { code: 2, message: expect.stringContaining('temperature is out of range') },
        attributes: { ...request, 'error.type': 'NonRetryableStepError' },
        events: [{ name: 'exception' }],
      });

      for (const span of spans)
        expect(Object.keys(span.attributes)).not.toEqual(expect.arrayContaining(CONTENT));
      const exported = JSON.stringify(spans);
      expect(exported).not.toContain(KEY);
      expect(exported).not.toContain('Summarise');
      expect(exported).not.toContain('deploy token');
    },
    120_000,
  );

  test('with --trace-content: prompts, answers and tool I/O in the conventions’ shape, secrets scrubbed', async () => {
    const spans = await tracedLlmRun(openai, 'tao-genai-content', ['--trace-content']);
    const read = stepSpans(spans, 'read');
    const last = read.chats.find((span) => span.attributes['gen_ai.usage.input_tokens'] === 30)!;
    expect(JSON.parse(String(last.attributes['gen_ai.system_instructions']))).toEqual([
      { type: 'text', content: expect.stringContaining('You are an exploration agent.') },
    ]);
    expect(JSON.parse(String(last.attributes['gen_ai.input.messages']))).toEqual([
      { role: 'user', parts: [{ type: 'text', content: 'Summarise notes.txt; my key is ***' }] },
      {
        role: 'assistant',
        parts: [{ type: 'tool_call', id: 'call_0', name: 'read_file', arguments: { path: 'notes.txt' } }],
      },
      {
        role: 'tool',
        parts: [
          {
            type: 'tool_call_response',
            id: 'call_0',
            response: expect.stringContaining('deploy token: ***'),
          },
        ],
      },
    ]);
    expect(JSON.parse(String(last.attributes['gen_ai.output.messages']))).toEqual([
      {
        role: 'assistant',
        parts: [{ type: 'text', content: 'The notes hold a deploy token.' }],
        finish_reason: 'stop',
      },
    ]);
    expect(read.tools[0]!.attributes).toMatchObject({
      'gen_ai.tool.call.arguments': '{"path":"notes.txt"}',
      'gen_ai.tool.call.result': expect.stringContaining('deploy token: ***'),
    });
    expect(JSON.stringify(spans)).not.toContain(KEY);
  }, 120_000);
});
