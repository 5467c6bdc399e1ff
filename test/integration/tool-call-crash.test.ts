/**
 * A tool call a person decides (an `ask` rule of toolApproval) across real
 * worker crashes (black box: a worker process SIGKILLed, a replacement
 * started, the fake OpenAI server over HTTP). The approval carries edited
 * arguments, so the tick on disk says which call ran. Whether the worker
 * dies while the call waits (and the approval comes while no worker runs),
 * the moment after the approval is sent, or mid-turn after the approved call
 * ran, the run ends as it would have without the kill: every call ran once,
 * the approved one as edited, and every turn was paid once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { approveStep } from '../../src/client';
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
const TURNS = 4;
/** Turn 2's tick asks; the person lets it run as tick 20. */
const APPROVAL = { taskId: TASK, input: { command: 'echo 20 >> ticks.log' } };
const ASK_TICK_2 = {
  toolApproval: {
    default: 'allow' as const,
    rules: [{ decision: 'ask' as const, tool: 'run_shell', prefix: 'echo 2' }],
  },
};

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'tao-tool-call-crash-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs the ticking step on a worker process until its second tick waits for
 * a decision; `crash` approves it, kills that process at its moment, and
 * returns the replacement it started. Then checks the run ended as it would
 * without the kill.
 */
async function decideAcrossCrash(
  crash: (run: LlmStepRun, requests: FakeRequest[], release: () => void) => Promise<WorkerProcess>,
  hangTurn3 = false,
) {
  let released = !hangTurn3;
  const { outcome } = await tickingAcrossCrash(
    protocol,
    dir,
    {
      profile: ASK_TICK_2,
      kind: 'tool',
      respond: (request) => {
        const n = turnOf(request);
        return n === 3 && !released ? { hang: true } : tickingAnswer(protocol, n, TURNS);
      },
    },
    (run, requests) => crash(run, requests, () => (released = true)),
  );
  expect(outcome).toMatchObject({
    success: true,
    output: `done after ${TURNS} turns`,
    usage: paidFor(TURNS),
  });
  expect(readTicks(dir)).toEqual([1, 20, 3]);
}

test('killed while the call waits, approved while no worker runs: the replacement runs the edited call once', async () => {
  await decideAcrossCrash(async ({ first, handle, startReplacement }) => {
    await first.kill();
    const approving = approveStep(handle, APPROVAL);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const replacement = await startReplacement();
    expect(await approving).toEqual({ taskId: TASK, decided: 'approved' });
    return replacement;
  });
});

test('killed the moment after the approval is sent: the edited call runs once', async () => {
  await decideAcrossCrash(async ({ first, handle, startReplacement }) => {
    const approving = approveStep(handle, APPROVAL);
    await first.kill();
    const replacement = await startReplacement();
    expect(await approving).toEqual({ taskId: TASK, decided: 'approved' });
    return replacement;
  });
});

test('killed mid-turn after the approved call ran: the retry does not run it again', async () => {
  await decideAcrossCrash(async ({ first, handle, startReplacement }, requests, release) => {
    expect(await approveStep(handle, APPROVAL)).toEqual({ taskId: TASK, decided: 'approved' });
    // The call ran and the model is asked for turn 3, which hangs: the kill lands mid-turn.
    await eventually(async () => (requests.some((r) => turnOf(r) === 3) ? true : undefined));
    expect(readTicks(dir)).toEqual([1, 20]);
    await first.kill();
    release();
    return startReplacement();
  }, true);
});
