/**
 * A message to a running agent across real worker crashes (black box: a
 * worker process SIGKILLed, a replacement started): the agent reads the
 * message once, whether the worker dies while the model call carrying it is
 * in flight, or the moment after the run accepted it, before any attempt
 * has read it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendMessage } from '../../src/client';
import type { StepOutcome } from '../../src/contracts';
import type { FakeRequest } from '../support/fake-http';
import { eventually } from '../support/gate-executor';
import { PROTOCOLS } from '../support/llm-harness';
import { closeDevClient } from '../support/temporal';
import { tickingAnswer, turnOf } from '../support/ticking-agent';
import { startTickingStepOnProcess, stopWorkerProcesses } from '../support/worker-process';

afterAll(async () => {
  await stopWorkerProcesses();
  await closeDevClient();
});

const TURNS = 6;
const MESSAGE = 'stop after the next tick, please';
const protocol = PROTOCOLS[0]!;

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'tao-message-crash-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const times = (request: FakeRequest) =>
  (request.body.messages as { role: string; content: unknown }[]).filter(
    (m) => m.role === 'user' && m.content === MESSAGE,
  ).length;

for (const when of ['while the call carrying it is in flight', 'the moment the run took it'] as const) {
  test(`killed ${when}: the agent reads the message once`, async () => {
    const requests: FakeRequest[] = [];
    let killed = false;
    const server = await protocol.start((request) => {
      requests.push(request);
      if (when === 'while the call carrying it is in flight' && times(request) > 0 && !killed)
        return { hang: true };
      const n = turnOf(request);
      const answer = tickingAnswer(protocol, n, TURNS);
      // Turn 2 streams slowly: the message is sent while it is in flight, so no attempt has read it yet.
      return n === 2 && !killed ? { ...answer, chunkDelayMs: 500 } : answer;
    });
    try {
      const { first, handle, startReplacement } = await startTickingStepOnProcess(protocol, server, dir);
      await eventually(async () => (requests.some((r) => turnOf(r) === 2) ? true : undefined));
      expect(await sendMessage(handle, 'ticker', MESSAGE)).toEqual({ taskId: 'ticker', seq: 1 });
      if (when === 'while the call carrying it is in flight') {
        await eventually(async () => (requests.some((r) => times(r) > 0) ? true : undefined));
      }
      await first.kill();
      killed = true;
      const replacement = await startReplacement();
      const [outcome] = (await handle.result()) as StepOutcome[];
      expect(outcome).toMatchObject({ success: true, output: `done after ${TURNS} turns` });
      await replacement.kill();
      // From the first request that carried it on, every request holds it exactly once.
      const since = requests.findIndex((r) => times(r) > 0);
      expect(since).toBeGreaterThan(0);
      expect(requests.slice(since).map(times)).toEqual(requests.slice(since).map(() => 1));
      expect(requests.slice(0, since).every((r) => times(r) === 0)).toBe(true);
    } finally {
      await server.close();
    }
  });
}
