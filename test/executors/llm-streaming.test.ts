/**
 * Answers stream in, over both wire protocols: the step publishes its text as
 * it arrives (live output), tool calls sent in fragments are put back together
 * exactly, and a step cancelled mid-stream stops at once.
 */
import { PROTOCOLS, fakeExecutor, fakeProviderPerTest, llmSpec, stepContext } from '../support/llm-harness';

describe.each(PROTOCOLS)('streaming over the $type protocol', (protocol) => {
  const fixture = fakeProviderPerTest(protocol);

  test('the answer is published as it grows, and the outcome is the whole of it', async () => {
    const answer = 'src/a.ts exports a single constant, a = 1, and nothing else.';
    fixture.server.reply({ ...protocol.text(answer, [40, 12]), chunkDelayMs: 30 });
    const context = stepContext();
    const outcome = await (
      await fakeExecutor(protocol, fixture.server, fixture.workspace)
    ).executeStep(llmSpec(), context);
    expect(outcome).toMatchObject({ output: answer, usage: { inputTokens: 40, outputTokens: 12 } });
    expect(context.outputs.length).toBeGreaterThan(2);
    for (const [i, text] of context.outputs.entries()) {
      expect(answer.startsWith(text)).toBe(true);
      if (i > 0) expect(text.length).toBeGreaterThan(context.outputs[i - 1]!.length);
    }
    expect(context.outputs.at(-1)).toBe(answer);
    expect(fixture.server.requests[0]!.body.stream).toBe(true);
  });

  test('every streamed event counts as progress, a tool call without text included', async () => {
    fixture.server.reply(
      protocol.toolCalls([{ name: 'read_file', input: { path: 'src/a.ts' } }]),
      protocol.text('done'),
    );
    let progress = 0;
    let beforeAnyText: number | undefined;
    const recording = stepContext();
    const context = {
      ...recording,
      progress: () => progress++,
      output: (text: string) => {
        beforeAnyText ??= progress;
        recording.output(text);
      },
    };
    await (await fakeExecutor(protocol, fixture.server, fixture.workspace)).executeStep(llmSpec(), context);
    // The tool call's turn has no text: its events (start, name, argument fragments, finish) are the only sign of work.
    expect(beforeAnyText).toBeGreaterThanOrEqual(4);
    expect(progress).toBeGreaterThan(beforeAnyText!);
  });

  test('tool calls arriving in fragments are reassembled exactly', async () => {
    const input = { path: 'src/a.ts', startLine: 1, maxLines: 40 };
    fixture.server.reply(
      protocol.toolCalls([
        { name: 'read_file', input },
        { name: 'search_text', input: { pattern: 'TODO' } },
      ]),
      protocol.text('done'),
    );
    await (
      await fakeExecutor(protocol, fixture.server, fixture.workspace)
    ).executeStep(llmSpec(), stepContext());
    const results = Object.values(protocol.toolResults(fixture.server.requests[1]!));
    expect(results[0]).toBe('export const a = 1;\n');
    expect(results[1]).toContain('src/b.ts:1:');
  });

  test('cancelling mid-stream aborts the request at once', async () => {
    fixture.server.reply({ ...protocol.text('word '.repeat(200)), chunkDelayMs: 1_000 });
    const context = stepContext();
    const running = (await fakeExecutor(protocol, fixture.server, fixture.workspace)).executeStep(
      llmSpec(),
      context,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const cancelledAt = Date.now();
    context.controller.abort(new Error('cancelled by user'));
    await expect(running).rejects.toThrow();
    expect(Date.now() - cancelledAt).toBeLessThan(500);
  });
});
