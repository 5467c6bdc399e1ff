/**
 * What an llm step writes to its transcript, over real HTTP against the fake
 * providers, through the worker's writer into a real (memory) store: turns,
 * streamed text, tool calls and results, usage and cost per model call,
 * secrets scrubbed, and a retried attempt that resumes its saved conversation
 * appending a boundary and no turn twice.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryTranscripts } from '../../src/stores/memory-transcripts';
import type { DelegationAllowance, DelegationRequest } from '../../src/contracts';
import type { StepEvent } from '../../src/transcripts/events';
import { TranscriptWriter } from '../../src/transcripts/writer';
import {
  FAKE_KEY,
  PROTOCOLS,
  fakeExecutor,
  fakeProviderPerTest,
  llmSpec,
  stepContext,
} from '../support/llm-harness';

const key = { workflowId: 'wf-test', taskId: 't1' };
const prices = { 'fake-model': { inputPerMTok: 3, outputPerMTok: 15 } };

describe.each(PROTOCOLS)('an llm step over $type keeps a transcript', (protocol) => {
  const fixture = fakeProviderPerTest(protocol);
  let store: MemoryTranscripts;
  beforeEach(() => (store = new MemoryTranscripts()));

  /** One attempt of the step with a writer on `store`, as the activity runs it. */
  const attempt = async (
    number: number,
    options: { resumeState?: unknown; delegation?: DelegationAllowance; lead?: boolean } = {},
  ) => {
    const config = options.lead ? { prices, ...leadConfig } : { prices };
    const executor = await fakeExecutor(protocol, fixture.server, fixture.workspace, config);
    const writer = new TranscriptWriter(store, key, number, (message, error) => {
      throw new Error(`${message}: ${error}`);
    });
    const context = {
      ...stepContext(number, options.resumeState),
      ...(options.delegation ? { delegation: options.delegation } : {}),
      events: writer,
    };
    const spec = options.lead ? llmSpec({ agent: 'lead', prompt: 'Review src/' }) : llmSpec();
    try {
      return { result: await executor.executeStep(spec, context), context };
    } catch (error) {
      return { error, context };
    } finally {
      await writer.close();
    }
  };
  const events = async () => (await store.readTranscript(key))!.events;

  test('turns, streamed text, tool calls with their results, usage and cost per model call', async () => {
    fixture.server.reply(
      protocol.toolCalls([{ name: 'read_file', input: { path: 'src/a.ts' } }], [100, 20]),
      protocol.text('src/a.ts exports a = 1', [150, 30]),
    );
    const { result } = await attempt(1);
    expect(result).toMatchObject({ success: true });
    const log = await events();
    expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
    expect(log.every((e) => e.attempt === 1 && e.timeMs > 0)).toBe(true);
    const deltas = log.filter((e) => e.kind === 'text-delta');
    expect(deltas.map((e) => e.text).join('')).toBe('src/a.ts exports a = 1');
    expect(log.filter((e) => e.kind !== 'text-delta').map(strip)).toEqual([
      { kind: 'attempt-start' },
      { kind: 'turn-start', round: 1 },
      {
        kind: 'turn-end',
        round: 1,
        text: '',
        finish: 'tool_calls',
        model: 'fake-model',
        usage: {
          inputTokens: 100,
          outputTokens: 20,
          cacheReadTokens: 0,
          cacheWriteTokens: 0,
          costUsd: 0.0006,
        },
      },
      {
        kind: 'tool-call',
        round: 1,
        callId: expect.any(String),
        name: 'read_file',
        input: '{"path":"src/a.ts"}',
      },
      {
        kind: 'tool-result',
        round: 1,
        callId: expect.any(String),
        content: 'export const a = 1;\n',
        isError: false,
      },
      { kind: 'turn-start', round: 2 },
      {
        kind: 'turn-end',
        round: 2,
        text: 'src/a.ts exports a = 1',
        finish: 'stop',
        model: 'fake-model',
        usage: {
          inputTokens: 150,
          outputTokens: 30,
          cacheReadTokens: 0,
          cacheWriteTokens: 0,
          costUsd: 0.0009,
        },
      },
      { kind: 'attempt-end', result: 'success' },
    ]);
    // Streamed text comes before the turn it belongs to ends.
    const end2 = log.find((e) => e.kind === 'turn-end' && e.round === 2)!;
    expect(deltas.every((e) => e.seq < end2.seq && e.round === 2)).toBe(true);
  });

  test('the provider key never reaches the transcript, and a long tool result is cut head and tail', async () => {
    writeFileSync(join(fixture.workspace, 'big.txt'), `HEAD${'-'.repeat(20_000)}TAIL`);
    fixture.server.reply(
      protocol.toolCalls([{ name: 'read_file', input: { path: 'big.txt' } }]),
      protocol.text(`the key is ${FAKE_KEY}`),
    );
    await attempt(1);
    const log = await events();
    expect(JSON.stringify(log)).not.toContain(FAKE_KEY);
    expect(log.find((e) => e.kind === 'turn-end' && e.round === 2)).toMatchObject({ text: 'the key is ***' });
    const result = log.find((e) => e.kind === 'tool-result')!;
    expect(result).toMatchObject({
      content: expect.stringMatching(/^HEAD-+\n… \[\d+ characters cut\] …\n-+TAIL$/),
    });
    expect((result as { content: string }).content.length).toBeLessThanOrEqual(4 * 1024);
  });

  test('a retry that resumes the saved conversation appends its boundary and never tells a resumed turn again', async () => {
    fixture.server.reply(
      protocol.toolCalls([{ name: 'read_file', input: { path: 'src/a.ts' } }], [100, 20]),
      protocol.error(500, 'overloaded'),
    );
    // Attempt 1 answers turn 1, records the tool result, then its second model call fails.
    const first = await attempt(1);
    expect(first.error).toBeInstanceOf(Error);
    fixture.server.reply(protocol.text('src/a.ts exports a = 1', [150, 30]));
    const second = await attempt(2, { resumeState: first.context.states.at(-1) });
    expect(second.result).toMatchObject({ success: true, usage: { inputTokens: 250, outputTokens: 50 } });
    const log = await events();
    expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
    expect(log.filter((e) => e.kind !== 'text-delta').map(brief)).toEqual([
      [1, 'attempt-start', undefined],
      [1, 'turn-start', 1],
      [1, 'turn-end', 1],
      [1, 'tool-call', 1],
      [1, 'tool-result', 1],
      [1, 'turn-start', 2],
      [1, 'attempt-end', 'crashed'],
      [2, 'attempt-start', 1],
      [2, 'turn-start', 2],
      [2, 'turn-end', 2],
      [2, 'attempt-end', 'success'],
    ]);
  });

  test('a delegating attempt tells what it handed over, and the attempt that resumes with the outcomes tells them', async () => {
    fixture.server.reply(
      protocol.toolCalls([
        { name: 'task', input: { agent: 'review', description: 'review a.ts', prompt: 'Review src/a.ts' } },
      ]),
      protocol.text('a.ts is fine'),
    );
    const first = await attempt(1, { lead: true, delegation: { depth: 0 } });
    if (!first.result || !('delegation' in first.result)) throw new Error('expected a delegation');
    // What the workflow hands back is what crossed the data converter.
    const request = JSON.parse(JSON.stringify(first.result.delegation)) as DelegationRequest;
    const callId = request.calls[0]!.callId;
    const outcome = { taskId: 't1/task-1-1', agent: 'review', sessionId: '', output: 'LGTM', success: true };
    const resume = { state: request.state, results: [{ callId, outcomes: [outcome] }] };
    await attempt(2, { lead: true, delegation: { depth: 0, resume } });

    const log = await events();
    expect(log.filter((e) => e.kind !== 'text-delta').map(brief)).toEqual([
      [1, 'attempt-start', undefined],
      [1, 'turn-start', 1],
      [1, 'turn-end', 1],
      [1, 'tool-call', 1],
      [1, 'delegated', 1],
      [1, 'attempt-end', 'delegated'],
      [2, 'attempt-start', 1],
      [2, 'delegation-result', 'delegation-result'],
      [2, 'turn-start', 2],
      [2, 'turn-end', 2],
      [2, 'attempt-end', 'success'],
    ]);
    expect(log.find((e) => e.kind === 'delegated')).toMatchObject({
      callId,
      tool: 'task',
      tasks: [{ agent: 'review', description: 'review a.ts' }],
    });
    expect(log.find((e) => e.kind === 'delegation-result')).toMatchObject({
      callId,
      outcomes: [{ taskId: 't1/task-1-1', success: true, output: 'LGTM' }],
    });
  });
});

const leadConfig = {
  agents: {
    lead: {
      systemPrompt: 'You lead reviews.',
      tools: ['read_file' as const],
      delegation: { agents: ['review'], maxTasksPerCall: 3, maxTasksPerStep: 4 },
    },
  },
};

const strip = ({ seq: _seq, attempt: _attempt, timeMs: _timeMs, ...rest }: StepEvent) => rest;

/** Attempt, kind, and the one field that tells events of a kind apart. */
const brief = (e: StepEvent) => [
  e.attempt,
  e.kind,
  'round' in e
    ? e.round
    : e.kind === 'attempt-start'
      ? e.resumedAtRound
      : e.kind === 'attempt-end'
        ? e.result
        : e.kind,
];
