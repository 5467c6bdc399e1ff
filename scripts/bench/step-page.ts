/**
 * `tao ui`'s step page, in headless Chromium: how soon a chunk the model
 * streams shows on the open page (an llm step on the fake OpenAI server,
 * through the worker's transcript writer, the store, the UI server's event
 * stream and the page), and how long a 500-turn transcript takes to open.
 * The fake server notes when it writes each frame and the page when each
 * turn's text grows, both on the machine clock (`Date.now`).
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Client } from '@temporalio/client';
import { chromium } from 'playwright-core';
import type { AgentExecutor } from '../../src/executors/executor';
import type { SessionStore } from '../../src/stores/session-store';
import type { UnnumberedEvent } from '../../src/transcripts/events';
import { startUiServer } from '../../src/ui/server';
import type { FakeRequest, FakeServer } from '../../test/support/fake-http';
import { openAiText, openAiToolCalls, startFakeOpenAI } from '../../test/support/fake-openai';
import { FAKE_KEY, PROTOCOLS, fakeExecutor, makeWorkspace } from '../../test/support/llm-harness';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface Percentiles {
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

export interface StepPageFigures {
  chunks: number;
  /** Chunks that let some text out at once (a turn's first chunk, shorter than the hold-back, lets out none). */
  chunksLettingOut: number;
  chunkEveryMs: number;
  /** Characters the executor holds back from a delta: the longest secret's length less one (./executors/llm/transcript). */
  holdBack: number;
  /** From a chunk written to the page showing all of its text. */
  whole: Percentiles;
  /** From a chunk written to the page showing what of it the secret scrubbing lets out at once. */
  safe: Percentiles;
  turns: number;
  events: number;
  /** Each open of the long transcript, navigation to its end shown. */
  openMs: number[];
  /** The same opens, with when the page asked for the event stream and got its first and last byte. */
  opens: TranscriptOpen[];
}

/** One open of the long transcript on the page's clock (ms since its navigation began). */
export interface TranscriptOpen {
  openMs: number;
  askedMs: number;
  firstByteMs: number;
  lastByteMs: number;
}

/** How often the long transcript is opened: one open says little on a shared machine. */
const OPENS = 5;

/** What the page-side observer keeps on the window: each turn's text length as it changed, and when. */
interface ObservedWindow {
  grew: { turn: number; length: number; at: number }[];
  document: { querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }>; body: unknown };
  MutationObserver: new (callback: () => void) => {
    observe(target: unknown, options: Record<string, boolean>): void;
  };
}

const LONG_PROMPT = 'answer after a long transcript';
/** The executor scrubs the provider key from streamed text, so it holds back this much of a turn's text. */
const HOLD_BACK = FAKE_KEY.length - 1;

function percentiles(delays: number[]): Percentiles {
  const sorted = [...delays].sort((a, b) => a - b);
  return {
    p50Ms: sorted[Math.floor(sorted.length * 0.5)]!,
    p95Ms: sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!,
    maxMs: sorted.at(-1)!,
  };
}

/** What the open-time probe reads of the page's window. */
interface EndedWindow {
  document: { querySelector(selector: string): { textContent: string | null } | null };
  performance: {
    now(): number;
    getEntriesByType(
      type: string,
    ): { name: string; startTime: number; responseStart: number; responseEnd: number }[];
  };
}

/** Runs `body` with a worker on `executor` that writes transcripts to the store the UI server reads. */
export type WithWorker = <T>(executor: AgentExecutor, body: (taskQueue: string) => Promise<T>) => Promise<T>;

export async function stepPage(
  client: Client,
  store: SessionStore,
  withWorker: WithWorker,
  options: { rounds: number; chunkEveryMs: number; turns: number },
): Promise<StepPageFigures> {
  const { rounds, chunkEveryMs } = options;
  const model = await startFakeOpenAI((request) => answer(request, rounds, chunkEveryMs));
  const ui = await startUiServer({ client, store, port: 0 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const workspace = makeWorkspace().root;
  try {
    const executor = await fakeExecutor(PROTOCOLS[0]!, model, workspace);
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    const workflowId = `bench-step-page-${Date.now()}`;
    // A long transcript, as a long agent leaves one: its step's own attempt goes on after these turns.
    const events = longTranscript(options.turns);
    await store.transcripts!.appendTranscript({ workflowId, taskId: 'long' }, events);
    const delays = await withWorker(executor, async (taskQueue) => {
      const handle = await client.workflow.start('parallelWorkflow', {
        taskQueue,
        workflowId,
        // `long` runs after `talk` and answers at once, after the turns written for it below.
        args: [
          {
            specs: [
              { taskId: 'talk', agent: 'explore', prompt: 'talk in rounds' },
              { taskId: 'long', agent: 'explore', prompt: LONG_PROMPT },
            ],
            concurrency: 1,
          },
        ],
      });
      await page.goto(`${ui.url}/#/run/${workflowId}/step/talk`);
      await page.getByText(/^Live: |^Connecting/).waitFor();
      const since = Date.now();
      await page.evaluate(() => {
        const w = globalThis as unknown as ObservedWindow;
        w.grew = [];
        const lengths: number[] = [];
        const note = () => {
          const texts = w.document.querySelectorAll('.turn .text');
          for (let turn = 0; turn < texts.length; turn++) {
            const length = texts[turn]!.textContent?.length ?? 0;
            if (length !== lengths[turn]) w.grew.push({ turn, length, at: Date.now() });
            lengths[turn] = length;
          }
        };
        new w.MutationObserver(note).observe(w.document.body, {
          subtree: true,
          childList: true,
          characterData: true,
        });
      });
      const outcomes = (await handle.result()) as { taskId: string; success: boolean; error?: string }[];
      const failed = outcomes.find((o) => !o.success);
      if (failed) throw new Error(`step ${failed.taskId} failed: ${failed.error}`);
      await page.getByText(/^Ended: /).waitFor({ timeout: 30_000 });
      const grew = await page.evaluate(() => (globalThis as unknown as ObservedWindow).grew);
      const shownAt = (turn: number, length: number) => {
        const shown = grew.find((g) => g.turn === turn && g.length >= length);
        if (!shown) throw new Error(`turn ${turn}'s text to ${length} characters never showed`);
        return shown.at;
      };
      // The talking step's turns (the long step answers after them), from when the page watched.
      const frames = contentFrames(model).filter((frame) => frame.at > since && frame.turn <= rounds);
      const whole = frames.map((frame) => shownAt(frame.turn, frame.length) - frame.at);
      // What the chunk lets out at once: the turn's text so far but its last HOLD_BACK characters.
      const safe = frames
        .filter((frame) => frame.length > HOLD_BACK)
        .map((frame) => shownAt(frame.turn, frame.length - HOLD_BACK) - frame.at);

      // The long transcript on a fresh page, the worker still answering the page's questions to the run; opened
      // OPENS times, each on a fresh page, each timed on the page's own clock.
      const opens: TranscriptOpen[] = [];
      let turns = 0;
      for (let i = 0; i < OPENS; i++) {
        const fresh = await browser.newPage({ viewport: { width: 1300, height: 900 } });
        await fresh.goto(`${ui.url}/#/run/${workflowId}/step/long`);
        // From its navigation's start to the frame that shows the transcript ended.
        const ended = await fresh.waitForFunction(
          () => {
            const w = globalThis as unknown as EndedWindow;
            const state = w.document.querySelector('.stream-state')?.textContent ?? '';
            return state.startsWith('Ended: ') && w.performance.now();
          },
          undefined,
          { polling: 'raf', timeout: 60_000 },
        );
        const openMs = (await ended.jsonValue()) as number;
        // The stream's resource entry lands once it is read to its end: asked for after the frame above.
        const stream = await fresh.waitForFunction(() => {
          const w = globalThis as unknown as EndedWindow;
          const events = w.performance.getEntriesByType('resource').find((e) => e.name.endsWith('/events'));
          return (
            events && {
              askedMs: events.startTime,
              firstByteMs: events.responseStart,
              lastByteMs: events.responseEnd,
            }
          );
        });
        opens.push({ openMs, ...((await stream.jsonValue()) as Omit<TranscriptOpen, 'openMs'>) });
        // The step's own answer is one more turn.
        turns = (await fresh.locator('.turn').count()) - 1;
        await fresh.close();
        if (turns !== options.turns) throw new Error(`the long transcript showed ${turns} turns`);
      }
      const openMs = opens.map((o) => o.openMs);
      return { whole, safe, openMs, opens, turns };
    });
    const { turns, openMs, opens } = delays;
    return {
      chunks: delays.whole.length,
      chunksLettingOut: delays.safe.length,
      chunkEveryMs,
      holdBack: HOLD_BACK,
      whole: percentiles(delays.whole),
      safe: percentiles(delays.safe),
      turns,
      events: events.length,
      openMs,
      opens,
    };
  } finally {
    await browser.close();
    await ui.close();
    await model.close();
    rmSync(dirname(workspace), { recursive: true, force: true });
  }
}

/** Each round streams a sentence, then reads a file; the last answers. Every frame waits `chunkEveryMs`. */
function answer(request: FakeRequest, rounds: number, chunkEveryMs: number) {
  if ((request.body.messages as { content: string }[]).some((m) => m.content === LONG_PROMPT))
    return openAiText('That was long.');
  const round = (request.body.messages as { role: string }[]).filter((m) => m.role === 'tool').length;
  const text = `Round ${round}: looking at the workspace a little more before answering, in a few words.`;
  if (round >= rounds) return { ...openAiText(`Done after ${round} rounds.`), chunkDelayMs: chunkEveryMs };
  const call = openAiToolCalls([{ name: 'read_file', input: { path: 'src/a.ts' } }]);
  (call.body as { choices: [{ message: { content: string } }] }).choices[0].message.content = text;
  return { ...call, chunkDelayMs: chunkEveryMs };
}

/** The content frames the model wrote: which turn (0 = the first request) and how long its text was then. */
function contentFrames(model: FakeServer): { turn: number; length: number; at: number }[] {
  const out: { turn: number; length: number; at: number }[] = [];
  let turn = -1;
  let length = 0;
  for (const { frame, at } of model.framesSent) {
    if (!frame.startsWith('data: {')) continue;
    const delta = (
      JSON.parse(frame.slice(6)) as { choices: { delta: { role?: string; content?: string } }[] }
    ).choices[0]?.delta;
    if (delta?.role) [turn, length] = [turn + 1, 0];
    if (delta?.content) {
      length += delta.content.length;
      out.push({ turn, length, at });
    }
  }
  return out;
}

/** `turns` rounds of streamed text, a tool call and its result, and usage, in one attempt. */
function longTranscript(turns: number): UnnumberedEvent[] {
  const stamp = { attempt: 1, timeMs: Date.now() };
  const sentence = 'The agent reads another file and says what it found in it, at some length. ';
  const events: UnnumberedEvent[] = [{ ...stamp, kind: 'attempt-start' }];
  for (let round = 0; round < turns; round++) {
    const text = sentence.repeat(3);
    const callId = `call_${round}`;
    events.push(
      { ...stamp, kind: 'turn-start', round },
      ...[0, 1, 2].map(() => ({ ...stamp, kind: 'text-delta' as const, round, text: sentence })),
      {
        ...stamp,
        kind: 'turn-end',
        round,
        text,
        finish: 'tool_calls',
        model: 'fake-model',
        usage: {
          inputTokens: 1000 + round,
          outputTokens: 60,
          cacheReadTokens: 900,
          cacheWriteTokens: 0,
          costUsd: 0.0012,
        },
      },
      {
        ...stamp,
        kind: 'tool-call',
        round,
        callId,
        name: 'read_file',
        input: `{"path":"src/file-${round}.ts"}`,
      },
      {
        ...stamp,
        kind: 'tool-result',
        round,
        callId,
        content: `export const x${round} = ${round};\n`.repeat(12),
        isError: false,
      },
    );
  }
  // Ended as a retried attempt ends (crashed): the step's own attempt then tells its end.
  events.push({ ...stamp, kind: 'attempt-end', result: 'crashed', error: 'worker restarted' });
  return events;
}
