/**
 * MCP tools in llm steps, end to end over real transports: a real MCP server
 * (test/support/mcp-server.ts, built with the official SDK) over stdio and
 * over streamable HTTP, and the fake OpenAI server over HTTP. The server
 * counts its calls on disk, so a test sees from outside what really ran.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentStepSpec } from '../../src/contracts';
import { NonRetryableStepError, RetryableStepError } from '../../src/executors/executor';
import type { LlmConfigFile } from '../../src/executors/llm/config';
import type { LlmExecutor } from '../../src/executors/llm/llm-executor';
import { eventually } from '../support/gate-executor';
import { PROTOCOLS, fakeExecutor, fakeProviderPerTest, llmSpec, stepContext } from '../support/llm-harness';
import {
  type HttpMcpServer,
  alive,
  countedCalls,
  mcpStdioCommand,
  serverEvents,
  startHttpMcpServer,
} from '../support/mcp-harness';

const openai = PROTOCOLS[0]!;
const TOKEN = 'mcp-token-5f0c1e9a7b';
const SECRET = 'stdio-secret-8d2b44c1';

const spec: AgentStepSpec = llmSpec({ agent: 'tracker', prompt: 'count this' });
/** The request id of the call a server event (`started <id>`) names first. */
const callId = (events: string[]) => events[0]?.split(' ')[1];
const agentUsing = (servers: string[], maxSteps = 4) => ({
  tracker: { systemPrompt: 'You track.', tools: [], mcpServers: servers, maxSteps },
});

describe('MCP tools in llm steps', () => {
  const fixture = fakeProviderPerTest(openai);
  const executors: LlmExecutor[] = [];
  let countFile: string;
  beforeEach(() => (countFile = join(fixture.workspace, 'calls.log')));
  afterEach(async () => {
    await Promise.all(executors.splice(0).map((executor) => executor.close()));
  });

  async function executorWith(config: LlmConfigFile, env: NodeJS.ProcessEnv = {}): Promise<LlmExecutor> {
    const executor = await fakeExecutor(openai, fixture.server, fixture.workspace, config, {
      MCP_COUNT_FILE: countFile,
      ...env,
    });
    executors.push(executor);
    return executor;
  }

  const stdioCounter = (extra: Record<string, unknown> = {}, ...flags: string[]) => ({
    counter: { ...mcpStdioCommand(...flags), env: ['MCP_COUNT_FILE'], ...extra },
  });

  /** Turn 1 calls `name` with `input`; turn 2 answers with the text the tool gave back. */
  function callThenEcho(name: string, input: unknown): void {
    fixture.server.reply(openai.toolCalls([{ name, input }]), (request) =>
      openai.text(`tool said: ${Object.values(openai.toolResults(request))[0]}`),
    );
  }

  describe('over stdio', () => {
    test("the server's tools join under its prefix, with its schemas; a call runs once and its answer reaches the model", async () => {
      const executor = await executorWith({ mcpServers: stdioCounter(), agents: agentUsing(['counter']) });
      callThenEcho('counter__count', { label: 'first' });

      const outcome = await executor.executeStep(spec, stepContext());

      expect(outcome).toMatchObject({ success: true });
      expect(outcome.output).toMatch(/^tool said: count=1 label=first pid=\d+$/);
      expect(countedCalls(countFile)).toEqual(['first']);
      const offered = fixture.server.requests[0]!.body.tools as {
        function: {
          name: string;
          description: string;
          parameters: { properties: object; required: string[] };
        };
      }[];
      expect(offered.map((t) => t.function.name).sort()).toEqual([
        'counter__big',
        'counter__count',
        'counter__crash',
        'counter__echo_secret',
        'counter__env_names',
        'counter__fail',
        'counter__slow',
      ]);
      const count = offered.find((t) => t.function.name === 'counter__count')!.function;
      expect(count.description).toBe('Counts one more call and answers the total so far.');
      expect(count.parameters).toMatchObject({
        type: 'object',
        properties: { label: { type: 'string', description: 'what this call counts' } },
        required: ['label'],
      });
    });

    test('one server process serves every step of the worker; close stops it', async () => {
      const executor = await executorWith({ mcpServers: stdioCounter(), agents: agentUsing(['counter']) });
      callThenEcho('counter__count', { label: 'a' });
      const first = await executor.executeStep(spec, stepContext());
      callThenEcho('counter__count', { label: 'b' });
      const second = await executor.executeStep({ ...spec, taskId: 't2' }, stepContext());

      const pids = [first, second].map((o) => Number(/pid=(\d+)/.exec(o.output)![1]));
      expect(second.output).toContain('count=2 label=b');
      expect(pids[0]).toBe(pids[1]);
      expect(alive(pids[0]!)).toBe(true);
      await executor.close();
      await eventually(async () => !alive(pids[0]!) || undefined);
    });

    test('an allow-list narrows the tools; one naming a tool the server lacks is refused, naming the fix', async () => {
      const narrowed = await executorWith({
        mcpServers: stdioCounter({ tools: ['count', 'fail'] }),
        agents: agentUsing(['counter']),
      });
      fixture.server.reply(openai.text('nothing to do'));
      await narrowed.executeStep(spec, stepContext());
      expect(openai.toolNames(fixture.server.requests[0]!).sort()).toEqual([
        'counter__count',
        'counter__fail',
      ]);

      const wrong = await executorWith({
        mcpServers: stdioCounter({ tools: ['count', 'create_issue'] }),
        agents: agentUsing(['counter']),
      });
      const refused = await wrong.executeStep(spec, stepContext()).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(NonRetryableStepError);
      expect((refused as Error).message).toBe(
        'MCP server "counter" has no tool "create_issue" (it lists: count, slow, fail, crash, big, env_names, echo_secret); fix tools: in mcpServers.counter in test config',
      );
    });

    test("a tool's own error goes back to the model, and the step goes on", async () => {
      const executor = await executorWith({ mcpServers: stdioCounter(), agents: agentUsing(['counter']) });
      callThenEcho('counter__fail', {});
      const outcome = await executor.executeStep(spec, stepContext());
      expect(outcome).toMatchObject({
        success: true,
        output: 'tool said: error: quota exceeded for this tracker',
      });
    });

    test('a call that outlasts its timeout is cancelled on the server and reported to the model', async () => {
      const executor = await executorWith({
        mcpServers: stdioCounter({ timeoutMs: 300 }),
        agents: agentUsing(['counter']),
      });
      callThenEcho('counter__slow', { ms: 30_000 });
      const outcome = await executor.executeStep(spec, stepContext());
      expect(outcome.output).toBe('tool said: error: slow timed out after 300 ms and was cancelled');
      const events = await eventually(async () =>
        serverEvents(countFile).length >= 2 ? serverEvents(countFile) : undefined,
      );
      expect(events).toEqual([`started ${callId(events)}`, `cancelled ${callId(events)}`]);
    });

    test('cancelling the step aborts the call in flight', async () => {
      const executor = await executorWith({ mcpServers: stdioCounter(), agents: agentUsing(['counter']) });
      fixture.server.reply(openai.toolCalls([{ name: 'counter__slow', input: { ms: 30_000 } }]));
      const context = stepContext();
      const running = executor.executeStep(spec, context).catch((error: unknown) => error);
      // The call has reached the server: its tool began.
      await eventually(async () => (serverEvents(countFile).length === 1 ? true : undefined));
      context.controller.abort(new Error('step cancelled'));
      expect(await running).toEqual(new Error('step cancelled'));
      const events = await eventually(async () =>
        serverEvents(countFile).length >= 2 ? serverEvents(countFile) : undefined,
      );
      expect(events).toEqual([`started ${callId(events)}`, `cancelled ${callId(events)}`]);
      expect(fixture.server.requests).toHaveLength(1);
    });

    test("a tool's answer is capped at maxOutputBytes", async () => {
      const executor = await executorWith({
        mcpServers: stdioCounter({ maxOutputBytes: 1_000 }),
        agents: agentUsing(['counter']),
      });
      callThenEcho('counter__big', { bytes: 5_000 });
      const outcome = await executor.executeStep(spec, stepContext());
      expect(outcome.output).toBe(
        `tool said: ${'x'.repeat(1_000)}\n[output truncated: 4000 more bytes not shown]`,
      );
    });

    test('only the variables the config names reach the server, and their values are never shown', async () => {
      const executor = await executorWith(
        {
          mcpServers: stdioCounter({ env: ['MCP_COUNT_FILE', 'MCP_SECRET'] }),
          agents: agentUsing(['counter']),
        },
        { MCP_SECRET: SECRET, OTHER_SECRET: 'not-for-the-server', PATH: process.env.PATH },
      );
      fixture.server.reply(
        openai.toolCalls([
          { name: 'counter__env_names', input: {} },
          { name: 'counter__echo_secret', input: {} },
        ]),
        (request) => openai.text(Object.values(openai.toolResults(request)).join(' | ')),
      );
      const context = stepContext();
      const outcome = await executor.executeStep(spec, context);
      const [names, echoed] = outcome.output.split(' | ');
      expect(names!.split(',')).toEqual(expect.arrayContaining(['MCP_COUNT_FILE', 'MCP_SECRET', 'PATH']));
      expect(names).not.toContain('OTHER_SECRET');
      expect(echoed).toBe('the secret is ***');
      expect(JSON.stringify([outcome, context.states, context.beats, fixture.server.requests])).not.toContain(
        SECRET,
      );
    });

    test('a command that does not exist fails the step without retry, naming the server and the fix', async () => {
      const executor = await executorWith({
        mcpServers: { github: { command: 'no-such-mcp-server-binary', args: ['--stdio'] } },
        agents: agentUsing(['github']),
      });
      const error = await executor.executeStep(spec, stepContext()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NonRetryableStepError);
      expect((error as Error).message).toBe(
        'MCP server "github": cannot start "no-such-mcp-server-binary" (no such program); fix command in mcpServers.github in test config',
      );
      expect(fixture.server.requests).toHaveLength(0);
    });

    test('a server that exits before its handshake fails without retry, with what it said, secrets scrubbed', async () => {
      const executor = await executorWith(
        {
          mcpServers: stdioCounter({ env: ['MCP_COUNT_FILE', 'MCP_SECRET'] }, '--refuse-start'),
          agents: agentUsing(['counter']),
        },
        { MCP_SECRET: SECRET },
      );
      const error = await executor.executeStep(spec, stepContext()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NonRetryableStepError);
      expect((error as Error).message).toBe(
        'MCP server "counter" exited before it was ready (exit code 2): config error: MCP_TOKEN is not set; fix command, args or env in mcpServers.counter in test config',
      );
    });

    test('a server that crashes mid-step is a retryable failure; the next attempt gets a fresh server', async () => {
      const executor = await executorWith({ mcpServers: stdioCounter(), agents: agentUsing(['counter']) });
      callThenEcho('counter__count', { label: 'before' });
      const before = await executor.executeStep(spec, stepContext());
      const firstPid = Number(/pid=(\d+)/.exec(before.output)![1]);

      fixture.server.reply(openai.toolCalls([{ name: 'counter__crash', input: {} }]));
      const crashed = await executor.executeStep(spec, stepContext()).catch((e: unknown) => e);
      expect(crashed).toBeInstanceOf(RetryableStepError);
      expect((crashed as Error).message).toMatch(
        /^MCP server "counter" went away during crash \(exit code 3\); the retry restarts it$/,
      );
      await eventually(async () => !alive(firstPid) || undefined);

      callThenEcho('counter__count', { label: 'after' });
      const after = await executor.executeStep(spec, stepContext(2));
      expect(after.output).toMatch(/count=2 label=after/);
      expect(Number(/pid=(\d+)/.exec(after.output)![1])).not.toBe(firstPid);
    });
  });

  describe('over streamable HTTP', () => {
    let server: HttpMcpServer;
    beforeEach(async () => {
      server = await startHttpMcpServer({ MCP_COUNT_FILE: countFile, MCP_EXPECTED_TOKEN: TOKEN });
    });
    afterEach(() => server.close());

    const httpTracker = () => ({
      tracker_http: { url: server.url, headers: { Authorization: 'Bearer ${TRACKER_TOKEN}' } },
    });

    test('a call carries the header from its named variable and reaches the server once', async () => {
      const executor = await executorWith(
        { mcpServers: httpTracker(), agents: agentUsing(['tracker_http']) },
        { TRACKER_TOKEN: TOKEN },
      );
      callThenEcho('tracker_http__count', { label: 'over-http' });
      const context = stepContext();
      const outcome = await executor.executeStep(spec, context);
      expect(outcome.output).toMatch(/^tool said: count=1 label=over-http pid=\d+$/);
      expect(countedCalls(countFile)).toEqual(['over-http']);
      expect(JSON.stringify([outcome, context.states, fixture.server.requests])).not.toContain(TOKEN);
    });

    test('a refused credential fails without retry, naming the server and the setting, never the value', async () => {
      const executor = await executorWith(
        { mcpServers: httpTracker(), agents: agentUsing(['tracker_http']) },
        { TRACKER_TOKEN: 'wrong-token-123456' },
      );
      const error = await executor.executeStep(spec, stepContext()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NonRetryableStepError);
      expect((error as Error).message).toBe(
        `MCP server "tracker_http" at ${server.url} refused the credentials (HTTP 401); check headers in mcpServers.tracker_http in test config and the variables they name`,
      );
    });

    test('a server that is down is a retryable failure', async () => {
      const executor = await executorWith(
        { mcpServers: httpTracker(), agents: agentUsing(['tracker_http']) },
        { TRACKER_TOKEN: TOKEN },
      );
      await server.close();
      const error = await executor.executeStep(spec, stepContext()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableStepError);
      expect((error as Error).message).toMatch(
        /^MCP server "tracker_http" at http:\/\/127\.0\.0\.1:\d+\/mcp is unreachable: /,
      );
    });

    test('a header naming an unset variable stops the worker at start; a literal header value is refused', async () => {
      await expect(
        executorWith({ mcpServers: httpTracker(), agents: agentUsing(['tracker_http']) }),
      ).rejects.toThrow(
        'headers.Authorization of mcpServers.tracker_http in test config: environment variable TRACKER_TOKEN is not set',
      );
      await expect(
        executorWith({
          mcpServers: { t: { url: server.url, headers: { Authorization: `Bearer ${TOKEN}` } } },
          agents: agentUsing(['t']),
        }),
      ).rejects.toThrow(/a header value must come from an environment variable/);
    });
  });

  test('an agent naming an undeclared server stops the worker at start', async () => {
    await expect(executorWith({ agents: agentUsing(['github']) })).rejects.toThrow(
      'test config: agent "tracker" lists MCP server "github", which is not under mcpServers; known: none',
    );
    expect(existsSync(countFile)).toBe(false);
  });
});
