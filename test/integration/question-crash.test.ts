/**
 * A question from an agent (`ask_user`) across real worker crashes (black
 * box: a worker process SIGKILLed, a replacement started, the fake OpenAI
 * server over HTTP): the run ends as it would have without the kill, the
 * model reads the answer exactly once, and no tool call runs twice, whether
 * the worker dies while the question waits and the answer comes while no
 * worker runs, the moment after the answer is sent, while the model call
 * carrying the answer is in flight, or while the question's timeout expires.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerStep } from '../../src/client';
import type { AskUserSettings } from '../../src/executors/llm/profiles';
import type { FakeRequest } from '../support/fake-http';
import { eventually } from '../support/gate-executor';
import { PROTOCOLS } from '../support/llm-harness';
import { closeDevClient } from '../support/temporal';
import { paidFor, readTicks, tickingAnswer, turnOf } from '../support/ticking-agent';
import {
  type LlmStepRun,
  type WorkerProcess,
  stopWorkerProcesses,
  tickingAcrossCrash,
} from '../support/worker-process';

afterAll(async () => {
  await stopWorkerProcesses();
  await closeDevClient();
});

const protocol = PROTOCOLS[0]!;
const TASK = 'ticker';
const ANSWER = 'use v2, the one we shipped';
const QUESTION = { question: 'Which API did you mean?', choices: ['v1', 'v2'] };
const TURNS = 4;

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'tao-question-crash-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

type Message = { role: string; content: unknown; tool_calls?: { function: { name: string } }[] };

/** The answer the request carries: the result after its `ask_user` call (call ids repeat across turns). */
function answerIn(request: FakeRequest): string | undefined {
  const messages = request.body.messages as Message[];
  const asked = messages.findIndex((m) => m.tool_calls?.some((c) => c.function.name === 'ask_user'));
  return asked < 0 ? undefined : (messages[asked + 1]?.content as string | undefined);
}

/** How many messages of the request carry `answer`, of any role: the `ask_user` result should be the one. */
const times = (request: FakeRequest, answer: string) =>
  (request.body.messages as Message[]).filter(
    (m) => typeof m.content === 'string' && m.content.includes(answer),
  ).length;

/** Turn 1 ticks, turn 2 asks, turn 3 ticks, turn 4 says what it was told; read from the conversation, as a resumed attempt is answered. */
function agent(request: FakeRequest) {
  const n = turnOf(request);
  if (n === 2) return protocol.toolCalls([{ name: 'ask_user', input: QUESTION }], [100 * n, 10]);
  if (n < TURNS) return tickingAnswer(protocol, n, TURNS);
  return protocol.text(`using ${answerIn(request)}`, [100 * n, 10]);
}

/**
 * Runs the asking step on a worker process until it waits for its answer;
 * `crash` kills that process and returns the replacement it started. Then
 * checks the run ended as it would without the kill: the agent used
 * `answer`, the model read it exactly once in every request from the first
 * that carried it on, each tick ran once, and every turn was paid once.
 */
async function askAcrossCrash(
  options: { answer: string; askUser: AskUserSettings; hangAnswerUntilKilled?: boolean },
  crash: (run: LlmStepRun, requests: FakeRequest[], killed: () => void) => Promise<WorkerProcess>,
) {
  let killed = false;
  const { outcome, requests } = await tickingAcrossCrash(
    protocol,
    dir,
    {
      profile: { askUser: options.askUser },
      kind: 'question',
      respond: (request) =>
        options.hangAnswerUntilKilled && !killed && times(request, options.answer) > 0
          ? { hang: true }
          : agent(request),
    },
    (run, requests) => crash(run, requests, () => (killed = true)),
  );
  expect(outcome).toMatchObject({
    success: true,
    output: `using ${options.answer}`,
    usage: paidFor(TURNS),
  });
  expect(readTicks(dir)).toEqual([1, 3]);
  // From the first request that carried it on, every request holds it exactly once.
  const since = requests.findIndex((r) => times(r, options.answer) > 0);
  expect(since).toBeGreaterThan(0);
  expect(requests.slice(since).map((r) => times(r, options.answer))).toEqual(
    requests.slice(since).map(() => 1),
  );
  expect(requests.slice(0, since).every((r) => times(r, options.answer) === 0)).toBe(true);
  return requests;
}

test('killed while the question waits, answered while no worker runs: the replacement goes on with the answer', async () => {
  await askAcrossCrash({ answer: ANSWER, askUser: true }, async ({ first, handle, startReplacement }) => {
    await first.kill();
    const answering = answerStep(handle, TASK, ANSWER);
    // The answer waits at the server for a worker to take it.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const replacement = await startReplacement();
    expect(await answering).toEqual({ taskId: TASK, answered: true });
    return replacement;
  });
});

test('killed the moment after the answer is sent: the replacement goes on with it once', async () => {
  await askAcrossCrash({ answer: ANSWER, askUser: true }, async ({ first, handle, startReplacement }) => {
    const answering = answerStep(handle, TASK, ANSWER);
    await first.kill();
    const replacement = await startReplacement();
    expect(await answering).toEqual({ taskId: TASK, answered: true });
    return replacement;
  });
});

test('killed while the model call carrying the answer is in flight: the retry sends it once', async () => {
  const sent = await askAcrossCrash(
    { answer: ANSWER, askUser: true, hangAnswerUntilKilled: true },
    async ({ first, handle, startReplacement }, requests, killed) => {
      expect(await answerStep(handle, TASK, ANSWER)).toEqual({ taskId: TASK, answered: true });
      await eventually(async () => (requests.some((r) => times(r, ANSWER) > 0) ? true : undefined));
      await first.kill();
      killed();
      return startReplacement();
    },
  );
  // The turn after the answer was asked twice: the call that hung, then the retry's.
  expect(sent.filter((r) => times(r, ANSWER) > 0).map(turnOf)).toEqual([3, 3, 4]);
});

test('the question times out while no worker runs: the replacement gives the model the default answer once', async () => {
  const fallback = 'v1, the default';
  await askAcrossCrash(
    { answer: fallback, askUser: { timeoutMs: 4_000, onTimeout: { answer: fallback } } },
    async ({ first, handle, startReplacement }) => {
      await first.kill();
      // The question's timer fires with no worker to see it.
      await eventually(async () => {
        const events = (await handle.fetchHistory()).events ?? [];
        return events.some((e) => e.timerFiredEventAttributes) ? true : undefined;
      });
      return startReplacement();
    },
  );
});
