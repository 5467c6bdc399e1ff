/** The LLM executor over real HTTP against fake OpenAI-compatible and Anthropic servers. */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { NonRetryableStepError, RetryableStepError } from '../../src/executors/executor';
import { LlmExecutor } from '../../src/executors/llm/llm-executor';
import type { FakeServer } from '../support/fake-http';
import {
  FAKE_KEY,
  PROTOCOLS,
  SECRET_TEXT,
  fakeExecutor,
  llmSpec,
  makeWorkspace,
  stepContext,
} from '../support/llm-harness';

const READ_ONLY = ['read_file', 'list_directory', 'search_text', 'glob'];
const verdictSchema = {
  type: 'object',
  properties: { verdict: { enum: ['approve', 'reject'] } },
  required: ['verdict'],
};

describe.each(PROTOCOLS)('LLM executor over the $type protocol', (protocol) => {
  let server: FakeServer;
  let workspace: string;

  beforeEach(async () => {
    server = await protocol.start();
    workspace = makeWorkspace().root;
  });
  afterEach(async () => {
    await server.close();
    rmSync(dirname(workspace), { recursive: true, force: true });
  });

  test('a tool loop reads workspace files, then answers; usage is summed and heartbeats show progress', async () => {
    server.reply(
      protocol.toolCalls([{ name: 'read_file', input: { path: 'src/a.ts' } }], [100, 20]),
      protocol.text('src/a.ts exports a = 1', [150, 30]),
    );
    const executor = await fakeExecutor(protocol, server, workspace);
    const context = stepContext();
    const outcome = await executor.executeStep(llmSpec(), context);

    expect(outcome).toMatchObject({
      taskId: 't1',
      agent: 'explore',
      sessionId: 'task-run-t1',
      output: 'src/a.ts exports a = 1',
      success: true,
      usage: { inputTokens: 250, outputTokens: 50, model: 'fake-model' },
    });
    expect(outcome.usage!.latencyMs).toBeGreaterThanOrEqual(0);
    const [first, second] = server.requests;
    expect(protocol.toolNames(first!)).toEqual(READ_ONLY); // read-only unless the profile grants more
    expect(protocol.systemPrompt(first!)).toMatch(/exploration agent/);
    expect(protocol.sentKey(first!)).toBe(FAKE_KEY);
    expect(Object.values(protocol.toolResults(second!))).toEqual(['export const a = 1;\n']);
    expect(context.beats).toEqual([
      { round: 1, maxRounds: 12, inputTokens: 100, outputTokens: 20 },
      { round: 2, maxRounds: 12, inputTokens: 250, outputTokens: 50 },
    ]);
  });

  test('paths out of the workspace are refused to the model: "..", absolute, symlink', async () => {
    server.reply(
      protocol.toolCalls([
        { name: 'read_file', input: { path: '../outside/secret.txt' } },
        { name: 'read_file', input: { path: '/etc/passwd' } },
        { name: 'read_file', input: { path: 'link-out' } },
        { name: 'write_file', input: { path: 'pwned.txt', content: 'x' } },
      ]),
      protocol.text('could not read them'),
    );
    const executor = await fakeExecutor(protocol, server, workspace);
    const outcome = await executor.executeStep(llmSpec(), stepContext());
    expect(outcome.success).toBe(true);
    const results = Object.values(protocol.toolResults(server.requests[1]!));
    expect(results).toEqual([
      expect.stringMatching(/^error: path "..\/outside\/secret.txt" refused: ".."/),
      expect.stringMatching(/^error: absolute path "\/etc\/passwd" refused/),
      expect.stringMatching(/^error: path "link-out" refused: it leads outside the workspace/),
      expect.stringMatching(/^error: no tool "write_file" here/),
    ]);
    expect(JSON.stringify(server.requests)).not.toContain(SECRET_TEXT);
  });

  test('arguments that are no object are refused to the model, and the conversation that says so is one the API takes', async () => {
    server.reply(
      // A server that streams tool input cut short, or a model that writes a string: TAO parses no object.
      protocol.toolCalls([{ name: 'read_file', input: 'src/a.ts' }]),
      protocol.text('I will pass an object'),
    );
    const executor = await fakeExecutor(protocol, server, workspace);
    const outcome = await executor.executeStep(llmSpec(), stepContext());
    expect(outcome).toMatchObject({ success: true, output: 'I will pass an object' });
    expect(Object.values(protocol.toolResults(server.requests[1]!))).toEqual([
      expect.stringMatching(/^error: invalid arguments: arguments: /),
    ]);
  });

  test('structured output that validates lands in `structured`; the schema is in the system prompt', async () => {
    server.reply(protocol.text('Here it is:\n```json\n{"verdict": "approve"}\n```'));
    const executor = await fakeExecutor(protocol, server, workspace);
    const outcome = await executor.executeStep(
      llmSpec({ agent: 'review', outputSchema: verdictSchema }),
      stepContext(),
    );
    expect(outcome).toMatchObject({ success: true, structured: { verdict: 'approve' } });
    expect(protocol.systemPrompt(server.requests[0]!)).toContain(JSON.stringify(verdictSchema));
  });

  test('structured output that does not validate is success: false with the reason', async () => {
    server.reply(protocol.text('{"verdict": "maybe"}'));
    const executor = await fakeExecutor(protocol, server, workspace);
    const outcome = await executor.executeStep(
      llmSpec({ agent: 'review', outputSchema: verdictSchema }),
      stepContext(),
    );
    expect(outcome.success).toBe(false);
    expect(outcome.structured).toBeUndefined();
    expect(outcome.error).toMatch(/^structured output rejected: does not match outputSchema: .*verdict/);
    expect(outcome.output).toBe('{"verdict": "maybe"}');
  });

  test('maxSteps bounds the loop: the last round withholds tools, and a model that still wants them fails', async () => {
    const executor = await fakeExecutor(protocol, server, workspace);
    const listForever = () => protocol.toolCalls([{ name: 'list_directory', input: {} }]);
    server.reply(listForever, listForever, listForever);
    const outcome = await executor.executeStep(llmSpec({ maxSteps: 2 }), stepContext());
    expect(server.requests.map(protocol.toolChoice)).toEqual(['auto', 'none']);
    expect(outcome).toMatchObject({ success: false, error: expect.stringMatching(/maxSteps 2/) });
  });

  test('429 with Retry-After is retryable after that delay; the next attempt succeeds', async () => {
    server.reply(protocol.error(429, 'slow down', { 'retry-after': '1' }), protocol.text('done'));
    const executor = await fakeExecutor(protocol, server, workspace);
    const failure = await executor.executeStep(llmSpec(), stepContext(1)).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RetryableStepError);
    expect(failure).toMatchObject({
      retryAfterMs: 1000,
      message: expect.stringMatching(/rate limit \(429\)/),
    });
    await expect(executor.executeStep(llmSpec(), stepContext(2))).resolves.toMatchObject({
      success: true,
      output: 'done',
    });
  });

  test('a 500 is retryable under the step policy (no delay of its own)', async () => {
    server.reply(protocol.error(500, 'upstream exploded'));
    const executor = await fakeExecutor(protocol, server, workspace);
    const failure = await executor.executeStep(llmSpec(), stepContext()).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RetryableStepError);
    expect(failure).toMatchObject({
      retryAfterMs: undefined,
      message: expect.stringMatching(/server error \(500\)/),
    });
  });

  test('a 401 is not retryable; the message names where the key comes from, never the key', async () => {
    server.reply(protocol.error(401, `invalid key ${FAKE_KEY}`));
    const executor = await fakeExecutor(protocol, server, workspace);
    const failure = await executor.executeStep(llmSpec(), stepContext()).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(NonRetryableStepError);
    expect((failure as Error).message).toMatch(/rejected the API key \(401\): set FAKE_KEY to a valid key/);
    expect((failure as Error).message).not.toContain(FAKE_KEY);
  });

  test('a 400 is not retryable and never echoes the key; context overflow says what to change', async () => {
    server.reply(
      protocol.error(400, `unknown parameter for key ${FAKE_KEY}`),
      protocol.error(400, "This model's maximum context length is 8192 tokens"),
    );
    const executor = await fakeExecutor(protocol, server, workspace);
    const bad = await executor.executeStep(llmSpec(), stepContext()).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(NonRetryableStepError);
    expect((bad as Error).message).toMatch(/rejected the request \(400\).*\[redacted\]/);
    expect((bad as Error).message).not.toContain(FAKE_KEY);
    const overflow = await executor.executeStep(llmSpec(), stepContext()).catch((e: unknown) => e);
    expect(overflow).toBeInstanceOf(NonRetryableStepError);
    expect((overflow as Error).message).toMatch(
      /outgrew the context window of "fake-model".*lower the agent's maxSteps/,
    );
  });

  test('cancellation aborts the HTTP request in flight', async () => {
    server.reply({ hang: true });
    const executor = await fakeExecutor(protocol, server, workspace);
    const context = stepContext();
    const running = executor.executeStep(llmSpec(), context);
    await until(() => server.requests.length === 1);
    context.controller.abort(new Error('workflow cancelled'));
    await expect(running).rejects.toThrow();
    await server.abandonment(); // the server saw the client hang up
    expect(server.abandoned).toHaveLength(1);
  });

  test('a step that outlives its timeout is aborted and retryable', async () => {
    server.reply({ hang: true });
    const executor = await fakeExecutor(protocol, server, workspace, { timeoutMs: 300 });
    const failure = await executor.executeStep(llmSpec(), stepContext()).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RetryableStepError);
    expect((failure as Error).message).toMatch(/exceeded its 300 ms timeout/);
    await server.abandonment();
  });
});

describe('LLM executor, provider-independent', () => {
  test('an unknown agent is a non-retryable error that lists the known ones', async () => {
    const { root } = makeWorkspace();
    const executor = await LlmExecutor.create(
      { model: 'm', workspace: root },
      { env: { OPENAI_API_KEY: 'k' } },
    );
    const failure = await executor.executeStep(llmSpec({ agent: 'wizard' }), stepContext()).catch((e) => e);
    expect(failure).toBeInstanceOf(NonRetryableStepError);
    expect((failure as Error).message).toBe(
      'unknown agent "wizard"; known: explore, general, plan, review, verify. Add it under agents: in the LLM config file',
    );
  });

  test('an unreachable server is retryable', async () => {
    const protocol = PROTOCOLS[0]!;
    const server = await protocol.start();
    await server.close(); // its port now refuses connections
    const executor = await fakeExecutor(protocol, server, makeWorkspace().root);
    const failure = await executor.executeStep(llmSpec(), stepContext()).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RetryableStepError);
    expect((failure as Error).message).toMatch(/^cannot reach fake \(http:\/\/127\.0\.0\.1:\d+\/v1\)/);
  });

  test('a profile that grants write and shell tools gets them, still inside the workspace', async () => {
    const protocol = PROTOCOLS[0]!;
    const server = await protocol.start();
    const { root } = makeWorkspace();
    process.env.TAO_TEST_SECRET = 'hunter2';
    try {
      server.reply(
        protocol.toolCalls([
          { name: 'write_file', input: { path: 'notes/out.txt', content: 'hello' } },
          { name: 'run_shell', input: { command: 'cat notes/out.txt; echo " secret=$TAO_TEST_SECRET"' } },
        ]),
        protocol.text('wrote it'),
      );
      const executor = await fakeExecutor(protocol, server, root, {
        agents: {
          scribe: { systemPrompt: 'You write notes.', tools: ['read_file', 'write_file', 'run_shell'] },
        },
      });
      const outcome = await executor.executeStep(llmSpec({ agent: 'scribe' }), stepContext());
      expect(outcome.success).toBe(true);
      expect(protocol.toolNames(server.requests[0]!)).toEqual(['read_file', 'write_file', 'run_shell']);
      const [wrote, shell] = Object.values(protocol.toolResults(server.requests[1]!));
      expect(wrote).toBe('wrote 5 bytes to notes/out.txt');
      // The shell sees the workspace, and not the worker's secrets.
      expect(shell).toMatch(/^exit status 0\n--- stdout ---\nhello secret=\n/);
    } finally {
      delete process.env.TAO_TEST_SECRET;
      await server.close();
    }
  });
});

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}
