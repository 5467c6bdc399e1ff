/**
 * Resume inside an llm step, over real HTTP to the fake providers: a retry
 * handed the state an earlier attempt saved goes on from there. Answered
 * turns are not requested again, recorded tool calls do not run again (a
 * shell tool appends a line per run, so runs are counted on disk), and usage
 * counts every answered turn exactly once.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  PROTOCOLS,
  type ProtocolHarness,
  type RecordingContext,
  fakeExecutor,
  fakeProviderPerTest,
  llmSpec,
  stepContext,
} from '../support/llm-harness';
import { paidFor, readTicks, tickingAnswer } from '../support/ticking-agent';

const TURNS = 10;
const tick = (n: number) => ({ name: 'run_shell', input: { command: `echo ${n} >> ticks.log` } });
const shellAgent = {
  agents: {
    shell: { systemPrompt: 'You tick.', tools: ['read_file' as const, 'run_shell' as const], maxSteps: 12 },
  },
};
const spec = llmSpec({ agent: 'shell', prompt: 'tick nine times, then say done' });

const turn = (protocol: ProtocolHarness, n: number) => tickingAnswer(protocol, n, TURNS);
const DONE = `done after ${TURNS} turns`;

describe.each(PROTOCOLS)('resume over the $type protocol', (protocol) => {
  const fixture = fakeProviderPerTest(protocol);
  const ticks = () => readTicks(fixture.workspace);

  /** Runs turns 1..6 answered, then aborts the attempt while turn 7 is in flight: a crash mid-request. */
  async function crashDuringTurn7(): Promise<RecordingContext> {
    for (let n = 1; n <= 6; n++) fixture.server.reply(turn(protocol, n));
    fixture.server.reply({ hang: true });
    const executor = await fakeExecutor(protocol, fixture.server, fixture.workspace, shellAgent);
    const first = stepContext(1);
    const attempt = executor.executeStep(spec, first).catch((error: unknown) => error);
    while (fixture.server.requests.length < 7) await new Promise((resolve) => setTimeout(resolve, 20));
    first.controller.abort(new Error('worker died'));
    await attempt;
    return first;
  }

  test('a retry from the last saved state sends only the missing turns and reruns no tool', async () => {
    const first = await crashDuringTurn7();
    expect(ticks()).toEqual([1, 2, 3, 4, 5, 6]);
    const killedRequest = fixture.server.requests[6]!;

    for (let n = 7; n <= TURNS; n++) fixture.server.reply(turn(protocol, n));
    const executor = await fakeExecutor(protocol, fixture.server, fixture.workspace, shellAgent);
    const retry = stepContext(2, first.states.at(-1));
    const outcome = await executor.executeStep(spec, retry);

    expect(fixture.server.requests).toHaveLength(11); // 6 answered + the one in flight at the crash + 4
    expect(fixture.server.requests[7]!.body.messages).toEqual(killedRequest.body.messages); // same conversation
    expect(ticks()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const paid = paidFor(TURNS);
    expect(outcome).toMatchObject({
      output: DONE,
      success: true,
      usage: paid,
    });
    expect(retry.beats.at(-1)).toMatchObject({ round: TURNS, inputTokens: paid.inputTokens });
  });

  // A save that fails stops the step where it stands, so what had happened by then is what had
  // happened before that save was done: an executor that went on without waiting for the save would
  // run the tool or ask the model regardless. It is read once the step has failed, so nothing the
  // step started can still be on its way.
  test.each([
    { failing: 1, saving: "turn 1's answer (a tool call)", then: { requests: 1, ticks: [] } },
    { failing: 2, saving: "the tool's result", then: { requests: 1, ticks: [1] } },
    { failing: 3, saving: "turn 2's answer, the final one", then: { requests: 2, ticks: [1] } },
  ])(
    'no tool call and no model request starts before the state before it is saved: $saving',
    async ({ failing, then }) => {
      fixture.server.reply(tickingAnswer(protocol, 1, 2), tickingAnswer(protocol, 2, 2));
      const executor = await fakeExecutor(protocol, fixture.server, fixture.workspace, shellAgent);
      const context = stepContext(1);
      context.saveState = async (state) => {
        context.states.push(state);
        if (context.states.length === failing) throw new Error(`store unavailable at save ${failing}`);
      };
      await expect(executor.executeStep(spec, context)).rejects.toThrow(
        `store unavailable at save ${failing}`,
      );
      expect({
        saves: context.states.length,
        requests: fixture.server.requests.length,
        ticks: existsSync(join(fixture.workspace, 'ticks.log')) ? ticks() : [],
      }).toEqual({ saves: failing, ...then });
    },
  );

  test('tool calls of one turn: only those without a recorded result run again', async () => {
    fixture.server.reply(protocol.toolCalls([tick(1), tick(2), tick(3)]), { hang: true });
    const executor = await fakeExecutor(protocol, fixture.server, fixture.workspace, shellAgent);
    const first = stepContext(1);
    const attempt = executor.executeStep(spec, first).catch((error: unknown) => error);
    while (fixture.server.requests.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    first.controller.abort(new Error('worker died'));
    await attempt;
    // The state saved after the first of the three results: as if the worker died while the second ran.
    const afterOneResult = first.states[1];
    rmSync(join(fixture.workspace, 'ticks.log'));

    fixture.server.reply(protocol.text('done'));
    const outcome = await executor.executeStep(spec, stepContext(2, afterOneResult));
    expect(outcome.output).toBe('done');
    expect(ticks()).toEqual([2, 3]);
    const results = protocol.toolResults(fixture.server.requests.at(-1)!);
    expect(Object.keys(results)).toHaveLength(3);
  });

  test('a retry after the final answer was saved asks the model nothing', async () => {
    fixture.server.reply(turn(protocol, TURNS));
    const executor = await fakeExecutor(protocol, fixture.server, fixture.workspace, shellAgent);
    const first = stepContext(1);
    const outcome = await executor.executeStep(spec, first);
    const again = await executor.executeStep(spec, stepContext(2, first.states.at(-1)));
    expect(fixture.server.requests).toHaveLength(1);
    const { inputTokens, outputTokens } = outcome.usage!;
    expect(again).toMatchObject({
      output: outcome.output,
      success: true,
      usage: { inputTokens, outputTokens },
    });
  });

  test('state saved for another prompt, or not ours at all, is ignored: the step starts afresh', async () => {
    fixture.server.reply(turn(protocol, TURNS));
    const executor = await fakeExecutor(protocol, fixture.server, fixture.workspace, shellAgent);
    const first = stepContext(1);
    await executor.executeStep(spec, first);
    fixture.server.reply(turn(protocol, TURNS), turn(protocol, TURNS));
    const changed = llmSpec({ agent: 'shell', prompt: 'a different task' });
    await executor.executeStep(changed, stepContext(2, first.states.at(-1)));
    await executor.executeStep(spec, stepContext(2, { kind: 'something else', rounds: 3 }));
    expect(fixture.server.requests).toHaveLength(3);
  });
});
