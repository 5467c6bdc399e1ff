/**
 * Answers stream in, over both wire protocols: the step publishes its text as
 * it arrives (live output), tool calls sent in fragments are put back together
 * exactly, and a step cancelled mid-stream stops at once.
 */
import type { Server, ServerResponse } from 'node:http';
import type { FakeServer } from '../support/fake-http';
import { eventually } from '../support/gate-executor';
import {
  PROTOCOLS,
  type RecordingContext,
  fakeExecutor,
  fakeProviderPerTest,
  llmSpec,
  stepContext,
} from '../support/llm-harness';

/**
 * Records, in `events`, how each of the server's responses ended: written to its end
 * (`response finished`), or cut off by the client hanging up first (`response cut off`).
 */
function recordResponseEnds(server: FakeServer, events: string[]): void {
  // FakeServer keeps its node:http server to itself; this listens beside its own handler.
  (server['server'] as Server).on('request', (_request, response: ServerResponse) => {
    response.once('close', () =>
      events.push(response.writableFinished ? 'response finished' : 'response cut off'),
    );
  });
}

/** Records each output the step publishes in `events` too, in order with everything else there. */
function recordOutputs(context: RecordingContext, events: string[]): void {
  context.output = (text) => {
    context.outputs.push(text);
    events.push('output');
  };
}

describe.each(PROTOCOLS)('streaming over the $type protocol', (protocol) => {
  const fixture = fakeProviderPerTest(protocol);

  test('the answer is published as it grows, and the outcome is the whole of it', async () => {
    const answer = 'src/a.ts exports a single constant, a = 1, and nothing else.';
    fixture.server.reply({ ...protocol.text(answer, [40, 12]), chunkDelayMs: 30 });
    const context = stepContext();
    const events: string[] = [];
    recordResponseEnds(fixture.server, events);
    recordOutputs(context, events);
    const outcome = await (
      await fakeExecutor(protocol, fixture.server, fixture.workspace)
    ).executeStep(llmSpec(), context);
    expect(outcome).toMatchObject({ output: answer, usage: { inputTokens: 40, outputTokens: 12 } });
    // Text was published while the answer was still streaming, not once it had all arrived.
    await eventually(async () => (events.some((e) => e.startsWith('response ')) ? true : undefined));
    expect(events).toContain('output');
    expect(events).toContain('response finished');
    expect(events.indexOf('output')).toBeLessThan(events.indexOf('response finished'));
    expect(context.outputs.length).toBeGreaterThan(1);
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
    const answer = 'word '.repeat(200);
    fixture.server.reply({ ...protocol.text(answer), chunkDelayMs: 500 });
    const context = stepContext();
    const events: string[] = [];
    recordResponseEnds(fixture.server, events);
    // Cancelled as the first text arrives: the rest of the answer is still to come, 500 ms a piece.
    context.output = (text) => {
      context.outputs.push(text);
      events.push('output');
      if (!context.controller.signal.aborted) {
        events.push('cancel');
        context.controller.abort(new Error('cancelled by user'));
      }
    };
    const failure = await (
      await fakeExecutor(protocol, fixture.server, fixture.workspace)
    )
      .executeStep(llmSpec(), context)
      .catch((error: unknown) => error);
    events.push('step failed');
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toBe('cancelled by user');
    // The step read nothing more after the cancel, and hung up on the server mid-answer rather than
    // reading the answer to its end: the server never finished writing it.
    await eventually(async () => (events.some((e) => e.startsWith('response ')) ? true : undefined));
    expect(events.filter((e) => e !== 'response cut off')).toEqual(['output', 'cancel', 'step failed']);
    expect(events).toContain('response cut off');
    expect(events).not.toContain('response finished');
    expect(context.outputs).toHaveLength(1);
    expect(context.outputs[0]!.length).toBeLessThan(answer.length);
  });
});
