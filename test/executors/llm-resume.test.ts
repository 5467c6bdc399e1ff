/**
 * Resume inside an llm step, over real HTTP to the fake providers: a retry
 * handed the state an earlier attempt saved goes on from there. Answered
 * turns are not requested again, recorded tool calls do not run again (a
 * shell tool appends a line per run, so runs are counted on disk), and usage
 * counts every answered turn exactly once.
 */
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FakeServer } from '../support/fake-http';
import {
  PROTOCOLS,
  type ProtocolHarness,
  type RecordingContext,
  fakeExecutor,
  llmSpec,
  makeWorkspace,
  stepContext,
} from '../support/llm-harness';

const TURNS = 10;
const tick = (n: number) => ({ name: 'run_shell', input: { command: `echo ${n} >> ticks.log` } });
const shellAgent = {
  agents: {
    shell: { systemPrompt: 'You tick.', tools: ['read_file' as const, 'run_shell' as const], maxSteps: 12 },
  },
};
const spec = llmSpec({ agent: 'shell', prompt: 'tick nine times, then say done' });

/** Turn n (1-based) of the scripted agent: turns 1..9 each run one shell tick, turn 10 answers. */
const turn = (protocol: ProtocolHarness, n: number) =>
  n < TURNS ? protocol.toolCalls([tick(n)], [100 * n, 10]) : protocol.text('done', [100 * n, 10]);

describe.each(PROTOCOLS)('resume over the $type protocol', (protocol) => {
  let server: FakeServer;
  let workspace: string;
  const ticks = () => readFileSync(join(workspace, 'ticks.log'), 'utf8').trim().split('\n').map(Number);

  beforeEach(async () => {
    server = await protocol.start();
    workspace = makeWorkspace().root;
  });
  afterEach(async () => {
    await server.close();
    rmSync(dirname(workspace), { recursive: true, force: true });
  });

  /** Runs turns 1..6 answered, then aborts the attempt while turn 7 is in flight: a crash mid-request. */
  async function crashDuringTurn7(): Promise<RecordingContext> {
    for (let n = 1; n <= 6; n++) server.reply(turn(protocol, n));
    server.reply({ hang: true });
    const executor = await fakeExecutor(protocol, server, workspace, shellAgent);
    const first = stepContext(1);
    const attempt = executor.executeStep(spec, first).catch((error: unknown) => error);
    while (server.requests.length < 7) await new Promise((resolve) => setTimeout(resolve, 20));
    first.controller.abort(new Error('worker died'));
    await attempt;
    return first;
  }

  test('a retry from the last saved state sends only the missing turns and reruns no tool', async () => {
    const first = await crashDuringTurn7();
    expect(ticks()).toEqual([1, 2, 3, 4, 5, 6]);
    const killedRequest = server.requests[6]!;

    for (let n = 7; n <= TURNS; n++) server.reply(turn(protocol, n));
    const executor = await fakeExecutor(protocol, server, workspace, shellAgent);
    const retry = stepContext(2, first.states.at(-1));
    const outcome = await executor.executeStep(spec, retry);

    expect(server.requests).toHaveLength(11); // 6 answered + the one in flight at the crash + 4
    expect(server.requests[7]!.body.messages).toEqual(killedRequest.body.messages); // same conversation
    expect(ticks()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const paid = Array.from({ length: TURNS }, (_, i) => 100 * (i + 1)).reduce((a, b) => a + b);
    expect(outcome).toMatchObject({
      output: 'done',
      success: true,
      usage: { inputTokens: paid, outputTokens: 10 * TURNS },
    });
    expect(retry.beats.at(-1)).toMatchObject({ round: TURNS, inputTokens: paid });
  });

  test('tool calls of one turn: only those without a recorded result run again', async () => {
    server.reply(protocol.toolCalls([tick(1), tick(2), tick(3)]), { hang: true });
    const executor = await fakeExecutor(protocol, server, workspace, shellAgent);
    const first = stepContext(1);
    const attempt = executor.executeStep(spec, first).catch((error: unknown) => error);
    while (server.requests.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    first.controller.abort(new Error('worker died'));
    await attempt;
    // The state saved after the first of the three results: as if the worker died while the second ran.
    const afterOneResult = first.states[1];
    rmSync(join(workspace, 'ticks.log'));

    server.reply(protocol.text('done'));
    const outcome = await executor.executeStep(spec, stepContext(2, afterOneResult));
    expect(outcome.output).toBe('done');
    expect(ticks()).toEqual([2, 3]);
    const results = protocol.toolResults(server.requests.at(-1)!);
    expect(Object.keys(results)).toHaveLength(3);
  });

  test('a retry after the final answer was saved asks the model nothing', async () => {
    server.reply(turn(protocol, TURNS));
    const executor = await fakeExecutor(protocol, server, workspace, shellAgent);
    const first = stepContext(1);
    const outcome = await executor.executeStep(spec, first);
    const again = await executor.executeStep(spec, stepContext(2, first.states.at(-1)));
    expect(server.requests).toHaveLength(1);
    const { inputTokens, outputTokens } = outcome.usage!;
    expect(again).toMatchObject({
      output: outcome.output,
      success: true,
      usage: { inputTokens, outputTokens },
    });
  });

  test('state saved for another prompt, or not ours at all, is ignored: the step starts afresh', async () => {
    server.reply(turn(protocol, TURNS));
    const executor = await fakeExecutor(protocol, server, workspace, shellAgent);
    const first = stepContext(1);
    await executor.executeStep(spec, first);
    server.reply(turn(protocol, TURNS), turn(protocol, TURNS));
    const changed = llmSpec({ agent: 'shell', prompt: 'a different task' });
    await executor.executeStep(changed, stepContext(2, first.states.at(-1)));
    await executor.executeStep(spec, stepContext(2, { kind: 'something else', rounds: 3 }));
    expect(server.requests).toHaveLength(3);
  });
});
