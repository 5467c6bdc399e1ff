/**
 * A scripted 10-turn tool-using agent on a fake provider, for resume tests and
 * the benchmark: turns 1..n-1 each ask for one shell tick (`echo <turn> >>
 * ticks.log`, so every tool run leaves a line on disk), the last turn answers.
 * A request's turn is read from its conversation, not from arrival order, so
 * a resumed attempt is answered as the model would answer it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProfileOverride } from '../../src/executors/llm/profiles';
import type { FakeRequest } from './fake-http';
import type { ProtocolHarness } from './llm-harness';

export const TICKING_SPEC = { taskId: 'ticker', agent: 'shell', prompt: 'tick nine times, then say done' };

/** Which turn a request asks for: one more than the answers already in its conversation. */
export const turnOf = (request: FakeRequest) =>
  (request.body.messages as { role: string }[]).filter((m) => m.role === 'assistant').length + 1;

/** Turn `n` of a `turns`-turn conversation; input tokens 100·n, output 10, so usage shows double counting. */
export const tickingAnswer = (protocol: ProtocolHarness, n: number, turns: number) =>
  n < turns
    ? protocol.toolCalls([{ name: 'run_shell', input: { command: `echo ${n} >> ticks.log` } }], [100 * n, 10])
    : protocol.text(`done after ${turns} turns`, [100 * n, 10]);

/**
 * Turn `n` of a `turns`-turn conversation that both ticks and counts: turns
 * 1..n-1 call `run_shell` (a tick) and the test MCP server's `count` (see
 * mcp-harness.ts, `writeCounterAgentConfig`), each with the turn; usage as above.
 */
export const tickAndCountAnswer = (protocol: ProtocolHarness, n: number, turns: number) =>
  n < turns
    ? protocol.toolCalls(
        [
          { name: 'run_shell', input: { command: `echo ${n} >> ticks.log` } },
          { name: 'counter__count', input: { label: String(n) } },
        ],
        [100 * n, 10],
      )
    : protocol.text(`done after ${turns} turns`, [100 * n, 10]);

/** The usage a `turns`-turn conversation costs when every turn is paid exactly once. */
export const paidFor = (turns: number) => ({
  inputTokens: (100 * turns * (turns + 1)) / 2,
  outputTokens: 10 * turns,
});

/**
 * An llm executor config whose `shell` agent may run shell ticks in
 * `workspace`, with `profile`'s settings besides (`askUser`, `toolApproval`).
 */
export function tickingConfig(
  protocol: ProtocolHarness,
  baseUrl: string,
  workspace: string,
  profile: ProfileOverride = {},
) {
  return {
    provider: 'fake',
    model: 'fake-model',
    workspace,
    providers: { fake: { type: protocol.type, baseUrl } },
    agents: { shell: { systemPrompt: 'You tick.', tools: ['run_shell' as const], maxSteps: 12, ...profile } },
  };
}

/** The ticks that ran, in order; a tool call run twice shows twice. */
export function readTicks(workspace: string): number[] {
  return readFileSync(join(workspace, 'ticks.log'), 'utf8').trim().split('\n').map(Number);
}
