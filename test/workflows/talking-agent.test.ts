/**
 * Issue #31's acceptance run, end to end: a coding agent on the fake OpenAI
 * server over real HTTP, with real `run_shell` in a scratch workspace and the
 * real test MCP server over stdio, under toolApproval rules. It runs `npm
 * test` freely (an allow rule), calls an MCP tool (allowed) while a message
 * reaches it mid-way, asks whether to run `rm -rf build` (an ask rule) and is
 * refused, asks the person a question and gets the answer, and finishes.
 * Every decision goes through a CLI, as a person would make it: `tao`, or
 * the Temporal CLI's `workflow update execute`.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pendingDecisions, sendMessage } from '../../src/client';
import type { StepOutcome } from '../../src/contracts';
import { tao } from '../support/cli';
import { updateFromCli } from '../support/temporal-cli';
import type { FakeRequest } from '../support/fake-http';
import { withFakeModel } from '../support/fake-model-run';
import { openAiText, openAiToolCalls } from '../support/fake-openai';
import { eventually, untilWaitingOn } from '../support/gate-executor';
import { countedCalls, mcpStdioCommand } from '../support/mcp-harness';
import { closeDevClient, devServerAddress } from '../support/temporal';

afterAll(closeDevClient);

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'tao-talking-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const MESSAGE = 'also keep the changelog in mind';
const REASON = 'The build folder looks stale; I want to delete it.';
type Message = { role: string; content: string | null };

const messagesOf = (request: FakeRequest) => request.body.messages as Message[];
const carries = (request: FakeRequest) =>
  messagesOf(request).filter((m) => m.role === 'user' && m.content === MESSAGE).length;

/** The agent's plan, one step a turn by the tool results it has; the MCP turn streams slowly. */
function coder(request: FakeRequest) {
  const results = messagesOf(request)
    .filter((m) => m.role === 'tool')
    .map((m) => m.content ?? '');
  switch (results.length) {
    case 0:
      return openAiToolCalls([{ name: 'run_shell', input: { command: 'npm test' } }]);
    case 1:
      return {
        ...openAiToolCalls([{ name: 'counter__count', input: { label: 'checked' } }]),
        chunkDelayMs: 300,
      };
    case 2: {
      const reply = openAiToolCalls([{ name: 'run_shell', input: { command: 'rm -rf build' } }]);
      const body = reply.body as { choices: { message: { content: string | null } }[] };
      body.choices[0]!.message.content = REASON;
      return reply;
    }
    case 3:
      return openAiToolCalls([
        { name: 'ask_user', input: { question: 'Which release channel?', choices: ['stable', 'beta'] } },
      ]);
    default: {
      const [tests, , removal, channel] = results;
      const heard = messagesOf(request).some((m) => m.content === MESSAGE);
      return openAiText(
        [
          `tests: ${tests!.includes('tests pass') ? 'pass' : 'fail'}`,
          `build: ${removal!.startsWith('error: a person rejected this call: keep it') ? 'kept' : 'gone'}`,
          `channel: ${channel}`,
          `message: ${heard ? 'read' : 'missed'}`,
        ].join('; '),
      );
    }
  }
}

test('a coding agent runs npm test freely, is refused rm -rf build, asks a question, hears a message, and finishes', async () => {
  const countFile = join(dir, 'mcp-calls.log');
  const config = {
    mcpServers: { counter: { ...mcpStdioCommand(), env: ['MCP_COUNT_FILE'] } },
    agents: {
      coder: {
        systemPrompt: 'You code.',
        tools: ['run_shell' as const],
        mcpServers: ['counter'],
        askUser: true as const,
        toolApproval: {
          default: 'deny' as const,
          rules: [
            { decision: 'allow' as const, tool: 'run_shell', prefix: 'npm test' },
            { decision: 'ask' as const, tool: 'run_shell', prefix: 'rm' },
            { decision: 'allow' as const, tool: 'counter.*' },
          ],
        },
      },
    },
  };
  await withFakeModel(
    coder,
    async (run) => {
      const { client, requests, workspace } = run;
      const address = ['--address', devServerAddress()];
      writeFileSync(
        join(workspace, 'package.json'),
        JSON.stringify({ name: 'demo', scripts: { test: 'node -e "console.log(\'tests pass\')"' } }),
      );
      mkdirSync(join(workspace, 'build'));
      const handle = await run.start({ specs: [{ taskId: 'fix', agent: 'coder', prompt: 'ship the fix' }] });
      const { workflowId } = handle;
      // Mid-way: while the model's second turn streams.
      await eventually(async () => (requests.length === 2 ? true : undefined));
      await expect(sendMessage(handle, 'fix', MESSAGE)).resolves.toEqual({ taskId: 'fix', seq: 1 });

      await untilWaitingOn(handle, 'tool', 'fix');
      const { pending } = await pendingDecisions(client, {
        query: `WorkflowId = "${workflowId}"`,
        withText: true,
      });
      expect(pending[0]?.toolCall).toEqual({
        tool: 'run_shell',
        input: { command: 'rm -rf build' },
        reason: REASON,
        rule: 'toolApproval.rules.1 (ask run_shell(rm:*))',
      });
      const listed = await tao(['pending', ...address, '--query', `WorkflowId = "${workflowId}"`]);
      expect(listed.stdout).toContain(`why: ${REASON}`);
      await expect(
        tao(['reject', workflowId, 'fix', '--comment', 'keep it, it is cached', ...address]),
      ).resolves.toMatchObject({ code: 0 });

      // The answer with the Temporal CLI's update command, which needs nothing of TAO's.
      await untilWaitingOn(handle, 'question', 'fix');
      await expect(updateFromCli(workflowId, 'answer', { taskId: 'fix', text: 'beta' })).resolves.toEqual({
        taskId: 'fix',
        answered: true,
      });

      const [outcome] = (await handle.result()) as StepOutcome[];
      expect(outcome).toMatchObject({
        success: true,
        output: 'tests: pass; build: kept; channel: beta; message: read',
      });
      expect(existsSync(join(workspace, 'build'))).toBe(true);
      expect(countedCalls(countFile)).toEqual(['checked']);
      // The message reached the model once, mid-way, and stayed in the conversation once.
      const since = requests.findIndex((r) => carries(r) > 0);
      expect(since).toBeGreaterThan(1);
      expect(since).toBeLessThan(requests.length - 1);
      expect(requests.slice(since).map(carries)).toEqual(requests.slice(since).map(() => 1));

      // The transcript tells it all, in order.
      const told = (await run.store.transcripts!.readTranscript({
        workflowId,
        taskId: 'fix',
      }))!.events.flatMap((e) =>
        e.kind === 'tool-call'
          ? [`call ${e.name}`]
          : e.kind === 'message'
            ? ['message']
            : e.kind === 'tool-decision'
              ? [`tool ${e.decision}`]
              : e.kind === 'attempt-end'
                ? [`end ${e.result}`]
                : [],
      );
      expect(told).toEqual([
        'call run_shell',
        'call counter__count',
        'message',
        'call run_shell',
        'tool asked',
        'end asked',
        'tool rejected',
        'call ask_user',
        'end asked',
        'end success',
      ]);
    },
    config,
    { MCP_COUNT_FILE: countFile },
  );
});
