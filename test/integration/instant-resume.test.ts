/**
 * Resume inside an llm step when turns come as fast as they can: the fake
 * provider answers at once and every tool returns at once, so the worker's
 * 1 s heartbeat throttle would leave the server several turns behind. A
 * worker process is SIGKILLed (while a model request is held open, or at a
 * moment the test does not choose) and a replacement finishes the step from
 * the state the killed worker made durable in the checkpoint store.
 *
 * Each of turns 1..9 calls a built-in tool (`run_shell`, appending the turn to
 * ticks.log) and a tool of the test MCP server over stdio (`count`, appending
 * it to calls.log): both logs count side effects across processes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StepOutcome } from '../../src/contracts';
import type { FakeRequest, FakeServer } from '../support/fake-http';
import { PROTOCOLS, type ProtocolHarness } from '../support/llm-harness';
import { countedCalls, writeCounterAgentConfig } from '../support/mcp-harness';
import { type TestPostgres, startPostgres } from '../support/postgres';
import { closeDevClient, devClient } from '../support/temporal';
import { paidFor, readTicks, tickAndCountAnswer, turnOf } from '../support/ticking-agent';
import { type WorkerProcess, startLlmStepOnProcess, stopWorkerProcesses } from '../support/worker-process';

afterAll(async () => {
  await stopWorkerProcesses();
  await closeDevClient();
});

const TURNS = 10;
const KILL_AT_TURN = 7;
const DONE = `done after ${TURNS} turns`;
const EVERY_TURN_BUT_THE_LAST = Array.from({ length: TURNS - 1 }, (_, i) => i + 1);

/** Turn n at once: both tools for turns 1..9, the answer on turn 10. */
const answer = (protocol: ProtocolHarness, n: number) => tickAndCountAnswer(protocol, n, TURNS);

interface Run {
  server: FakeServer;
  /** Resolves with the request that meets the kill condition, as it arrives. */
  killPoint: Promise<FakeRequest>;
  first: WorkerProcess;
  /** Kills the first worker, starts a replacement and waits for the step's outcome. */
  killAndFinish(): Promise<StepOutcome>;
  /** Each side effect of each tool, as the logs on disk have them. */
  ticks(): number[];
  counts(): number[];
  close(): Promise<void>;
}

/**
 * Starts the step on a worker process whose fake provider calls `killAt`
 * with every request: `'hold'` leaves that request unanswered and makes it
 * the kill point, `'now'` answers it and makes it the kill point.
 */
async function startRun(
  protocol: ProtocolHarness,
  killAt: (n: number, request: FakeRequest) => 'hold' | 'now' | undefined,
  storeRef?: string,
): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'tao-instant-resume-'));
  let reached: (request: FakeRequest) => void = () => {};
  const killPoint = new Promise<FakeRequest>((resolve) => (reached = resolve));
  let killed = false;
  const server = await protocol.start((request) => {
    const n = turnOf(request);
    const kill = killed ? undefined : killAt(n, request);
    if (kill) reached(request);
    return kill === 'hold' ? { hang: true } : answer(protocol, n);
  });
  const configFile = writeCounterAgentConfig(
    dir,
    { type: protocol.type, baseUrl: protocol.baseUrl(server) },
    'worker',
    { systemPrompt: 'You tick and count.', tools: ['run_shell'], maxSteps: 12 },
  );
  const countFile = join(dir, 'calls.log');
  const { first, handle, startReplacement } = await startLlmStepOnProcess({
    client: await devClient(),
    dir,
    configFile,
    spec: { taskId: 'tick-and-count', agent: 'worker', prompt: 'tick and count nine times, then say done' },
    env: { MCP_COUNT_FILE: countFile },
    ...(storeRef ? { storeRef } : {}),
  });
  let replacement: WorkerProcess | undefined;
  return {
    server,
    killPoint,
    first,
    async killAndFinish() {
      await first.kill();
      killed = true;
      replacement = await startReplacement();
      const [outcome] = (await handle.result()) as StepOutcome[];
      return outcome!;
    },
    ticks: () => readTicks(dir),
    counts: () => countedCalls(countFile).map(Number),
    async close() {
      await replacement?.stop();
      await first.kill();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Side effects beyond the first of each: a tool call that ran again. */
const repeats = (effects: number[]) => effects.length - new Set(effects).size;

describe.each(PROTOCOLS)('instant answers over $type, file store', (protocol) => {
  test('killed while request 7 is held open: 11 requests, each tool call once, the same conversation asked again', async () => {
    const run = await startRun(protocol, (n) => (n === KILL_AT_TURN ? 'hold' : undefined));
    try {
      await run.killPoint;
      const outcome = await run.killAndFinish();
      expect(outcome).toMatchObject({ success: true, output: DONE, usage: paidFor(TURNS) });
      expect(run.server.requests).toHaveLength(TURNS + 1);
      const [held, again] = run.server.requests.slice(KILL_AT_TURN - 1, KILL_AT_TURN + 1);
      expect(again!.body.messages).toEqual(held!.body.messages);
      expect(run.ticks()).toEqual(EVERY_TURN_BUT_THE_LAST);
      expect(run.counts()).toEqual(EVERY_TURN_BUT_THE_LAST);
    } finally {
      await run.close();
    }
  });

  test('killed at a moment the code does not choose: at most the one thing in flight is done again', async () => {
    // A random turn's request, answered at once, with the kill up to 25 ms behind it: the worker may be
    // reading the answer, running either tool, or saving the state.
    const turn = 2 + Math.floor(Math.random() * (TURNS - 2));
    const delayMs = Math.floor(Math.random() * 25);
    const run = await startRun(protocol, (n) => (n === turn ? 'now' : undefined));
    try {
      await run.killPoint;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      const outcome = await run.killAndFinish();
      expect(outcome).toMatchObject({ success: true, output: DONE, usage: paidFor(TURNS) });
      expect(new Set(run.ticks())).toEqual(new Set(EVERY_TURN_BUT_THE_LAST));
      expect(new Set(run.counts())).toEqual(new Set(EVERY_TURN_BUT_THE_LAST));
      // A model request whose answer was not recorded, or a tool call whose result was not: one, not both.
      const again = {
        requests: run.server.requests.length - TURNS,
        ticks: repeats(run.ticks()),
        counts: repeats(run.counts()),
      };
      // What the kill hit, and how to aim at it again.
      console.log(
        `${protocol.type}: killed ${delayMs} ms after request ${turn} arrived; done again: ${JSON.stringify(again)}`,
      );
      const redone = again.requests + again.ticks + again.counts;
      expect(redone).toBeLessThanOrEqual(1);
      expect(run.server.requests.length).toBeGreaterThanOrEqual(TURNS);
    } finally {
      await run.close();
    }
  });
});

describe('instant answers, PostgreSQL store', () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 60_000);
  afterAll(() => pg?.destroy());

  test('killed while request 7 is held open: 11 requests, each tool call once', async () => {
    const protocol = PROTOCOLS[0]!;
    const run = await startRun(protocol, (n) => (n === KILL_AT_TURN ? 'hold' : undefined), pg.url);
    try {
      await run.killPoint;
      const outcome = await run.killAndFinish();
      expect(outcome).toMatchObject({ success: true, output: DONE, usage: paidFor(TURNS) });
      expect(run.server.requests).toHaveLength(TURNS + 1);
      expect(run.ticks()).toEqual(EVERY_TURN_BUT_THE_LAST);
      expect(run.counts()).toEqual(EVERY_TURN_BUT_THE_LAST);
    } finally {
      await run.close();
    }
  });
});
