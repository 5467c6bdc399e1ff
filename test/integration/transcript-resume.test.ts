/**
 * A step's transcript across a real worker crash: a 10-turn llm step runs on
 * a worker process writing to a file store, the process is SIGKILLed while
 * turn 7 is in flight, and a replacement process finishes the step. The one
 * log holds both attempts: the boundary says the retry resumed the saved
 * conversation at round 6, and no turn appears twice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StepOutcome } from '../../src/contracts';
import { FileSessionStore } from '../../src/stores/file-store';
import type { StepEvent } from '../../src/transcripts/events';
import { eventually } from '../support/gate-executor';
import { PROTOCOLS } from '../support/llm-harness';
import { closeDevClient } from '../support/temporal';
import { TICKING_SPEC, tickingAnswer, turnOf } from '../support/ticking-agent';
import { startTickingStepOnProcess, stopWorkerProcesses } from '../support/worker-process';

afterAll(async () => {
  await stopWorkerProcesses();
  await closeDevClient();
});

const TURNS = 10;
const KILL_AT_TURN = 7;
const protocol = PROTOCOLS[0]!;

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'tao-transcript-resume-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('killed during turn 7: attempt 2 resumes at round 6 in the same log, and no turn is told twice', async () => {
  let killed = false;
  const server = await protocol.start((request) => {
    const n = turnOf(request);
    return n === KILL_AT_TURN && !killed ? { hang: true } : tickingAnswer(protocol, n, TURNS);
  });
  const store = new FileSessionStore(join(dir, 'store'));
  try {
    const { first, handle, startReplacement } = await startTickingStepOnProcess(protocol, server, dir);
    const key = { workflowId: handle.workflowId, taskId: TICKING_SPEC.taskId };
    const events = async () => (await store.transcripts.readTranscript(key))?.events ?? [];
    // Readable while the step runs: the first attempt's turns are there before it is killed.
    await eventually(async () =>
      (await events()).some((e) => e.kind === 'turn-start' && e.round === KILL_AT_TURN) ? true : undefined,
    );
    await first.kill();
    killed = true;
    await startReplacement();
    const [outcome] = (await handle.result()) as StepOutcome[];
    expect(outcome).toMatchObject({ success: true, output: `done after ${TURNS} turns` });

    const log = await events();
    expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
    expect(log.filter((e) => e.kind === 'attempt-start').map((e) => [e.attempt, e.resumedAtRound])).toEqual([
      [1, undefined],
      [2, KILL_AT_TURN - 1],
    ]);
    const ended = log.filter((e) => e.kind === 'turn-end').map((e) => [e.attempt, e.round]);
    expect(ended).toEqual(Array.from({ length: TURNS }, (_, i) => [i + 1 < KILL_AT_TURN ? 1 : 2, i + 1]));
    const results = log.filter((e) => e.kind === 'tool-result').map((e) => e.round);
    expect(results).toEqual(Array.from({ length: TURNS - 1 }, (_, i) => i + 1));
    // Attempt 1 asked for turn 7 and died; attempt 2 asked again, and nothing of it comes before its boundary.
    const boundary = log.find((e) => e.kind === 'attempt-start' && e.attempt === 2)!;
    expect(log.filter((e) => e.attempt === 2).every((e) => e.seq >= boundary.seq)).toBe(true);
    expect(log.filter((e) => e.kind === 'turn-start').map((e) => [e.attempt, e.round])).toContainEqual([
      1, 7,
    ]);
    expect(log.at(-1)).toMatchObject<Partial<StepEvent>>({
      kind: 'attempt-end',
      result: 'success',
      attempt: 2,
    });
  } finally {
    await server.close();
  }
});
