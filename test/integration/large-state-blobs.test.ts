/**
 * Issue #33 through Temporal with real parts: an llm step whose conversation
 * grows past the largest state a heartbeat carries (each tool call prints
 * 30 KB), on a worker whose data converter has the claim-check codec over a
 * file blob store and whose checkpoint store keeps the step's states. The
 * heartbeats leave the large states to the store, so no beat is offloaded to
 * a blob; a retry (after a failed model request, or a worker process
 * SIGKILLed mid-turn) resumes from the store's state, and one whose store
 * lost it resumes from the last beat's small state and runs what followed again.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { taoDataConverter } from '../../src/codec';
import type { StepOutcome } from '../../src/contracts';
import { LlmExecutor } from '../../src/executors/llm/llm-executor';
import type { SessionStore } from '../../src/stores/session-store';
import type { FakeRequest } from '../support/fake-http';
import { PROTOCOLS } from '../support/llm-harness';
import { TICKING_SPEC, paidFor, readTicks, tickingConfig, turnOf } from '../support/ticking-agent';
import { eventually } from '../support/gate-executor';
import { closeDevClient, devClient, uniqueId, withWorker } from '../support/temporal';
import { CRASH_STEP_POLICY, startLlmStepOnProcess, stopWorkerProcesses } from '../support/worker-process';

afterAll(async () => {
  await stopWorkerProcesses();
  await closeDevClient();
});

const TURNS = 10;
const FAIL_AT_TURN = 7;
const PRINTED_BYTES = 30_000;
const protocol = PROTOCOLS[0]!;

/** Turn `n`: a tick that also prints {@link PRINTED_BYTES}, so the conversation passes 64 KiB by turn 3. */
const loudAnswer = (n: number) =>
  n < TURNS
    ? protocol.toolCalls(
        [
          {
            name: 'run_shell',
            input: { command: `head -c ${PRINTED_BYTES} /dev/zero | tr '\\0' x; echo ${n} >> ticks.log` },
          },
        ],
        [100 * n, 10],
      )
    : protocol.text(`done after ${TURNS} turns`, [100 * n, 10]);

interface LoudRun {
  outcome: StepOutcome;
  requests: number;
  ticks: number[];
  blobs: { count: number; bytes: number };
}

/**
 * Runs the loud step once; `onFailedTurn` runs (with the worker's store) when
 * turn {@link FAIL_AT_TURN} is first asked for, which then fails with a 500
 * so Temporal retries the attempt. Without it, no turn fails.
 */
async function runLoudStep(onFailedTurn?: (store: SessionStore) => Promise<void>): Promise<LoudRun> {
  let hook: Promise<void> | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tao-large-state-'));
  const blobDir = join(dir, 'blobs');
  mkdirSync(blobDir);
  let failed = false;
  let storeOfWorker: SessionStore | undefined;
  const server = await protocol.start((request: FakeRequest) => {
    const n = turnOf(request);
    if (onFailedTurn && n === FAIL_AT_TURN && !failed) {
      failed = true;
      // Done long before the retry starts (CRASH_STEP_POLICY: 200 ms later); awaited below all the same.
      hook = onFailedTurn(storeOfWorker!);
      return protocol.error(500, 'the provider fell over');
    }
    return loudAnswer(n);
  });
  try {
    const executor = await LlmExecutor.create(tickingConfig(protocol, protocol.baseUrl(server), dir));
    const dataConverter = taoDataConverter({ blobs: blobDir });
    const outcome = await withWorker({ executor, dataConverter }, async ({ client, taskQueue, store }) => {
      storeOfWorker = store;
      const handle = await client.workflow.start('parallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('large-state'),
        args: [{ specs: [TICKING_SPEC], stepPolicy: CRASH_STEP_POLICY }],
      });
      const [result] = (await handle.result()) as StepOutcome[];
      await hook;
      return result!;
    });
    return { outcome, requests: server.requests.length, ticks: readTicks(dir), blobs: blobsIn(blobDir) };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function blobsIn(blobDir: string): { count: number; bytes: number } {
  const files = readdirSync(blobDir, { withFileTypes: true }).filter((f) => f.name.startsWith('sha256-'));
  return {
    count: files.length,
    bytes: files.reduce((sum, f) => sum + statSync(join(blobDir, f.name)).size, 0),
  };
}

test('a long conversation over the threshold writes no heartbeat blob', async () => {
  const run = await runLoudStep();
  expect(run.outcome).toMatchObject({ success: true, output: `done after ${TURNS} turns` });
  expect(run.requests).toBe(TURNS);
  // Each of the 9 turns with a tool call saved a state of 30 KB more; 7 of them are over 64 KiB.
  // Before the fix: 15 blobs here, one per beat the throttle let through once the state passed 128 KiB.
  console.log(`large-state step (${TURNS} turns, ${PRINTED_BYTES} B a tool call): ${run.blobs.count} blobs`);
  expect(run.blobs).toEqual({ count: 0, bytes: 0 });
});

test('a retry of a step with a large state resumes from the store at the failed turn', async () => {
  const run = await runLoudStep(async () => {});
  expect(run.outcome).toMatchObject({
    success: true,
    output: `done after ${TURNS} turns`,
    usage: paidFor(TURNS),
  });
  // The failed attempt asked for turns 1..7, the retry for 7..10; no tool call ran twice.
  expect(run.requests).toBe(FAIL_AT_TURN + (TURNS - FAIL_AT_TURN + 1));
  expect(run.ticks).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  expect(run.blobs.count).toBe(0);
});

test('a retry whose store lost the large state resumes from the last small one and still finishes', async () => {
  const run = await runLoudStep(async (store) => {
    for (const { key } of await store.listStepStates()) await store.deleteStepState(key);
  });
  expect(run.outcome).toMatchObject({ success: true, output: `done after ${TURNS} turns` });
  // The last state small enough for a beat is turn 1's or 2's: the ticks after it run again.
  expect(run.ticks.slice(0, 6)).toEqual([1, 2, 3, 4, 5, 6]);
  const again = run.ticks.slice(6);
  expect(again.at(-1)).toBe(9);
  expect([2, 3]).toContain(again[0]);
  expect(run.blobs.count).toBe(0);
});

test('a worker SIGKILLed during turn 7 of a large-state step: its replacement resumes from the store', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tao-large-state-kill-'));
  const blobsDir = join(dir, 'blobs');
  mkdirSync(blobsDir);
  let killed = false;
  const server = await protocol.start((request) => {
    const n = turnOf(request);
    return n === FAIL_AT_TURN && !killed ? { hang: true } : loudAnswer(n);
  });
  try {
    const configFile = join(dir, 'llm.json');
    writeFileSync(configFile, JSON.stringify(tickingConfig(protocol, protocol.baseUrl(server), dir)));
    const { first, handle, startReplacement } = await startLlmStepOnProcess({
      client: await devClient(),
      dir,
      configFile,
      spec: TICKING_SPEC,
      blobsDir,
    });
    await eventually(async () => server.requests.length === FAIL_AT_TURN || undefined);
    await first.kill();
    killed = true;
    expect(readTicks(dir)).toEqual([1, 2, 3, 4, 5, 6]);
    await startReplacement();
    const [outcome] = (await handle.result()) as StepOutcome[];
    expect(outcome).toMatchObject({
      success: true,
      output: `done after ${TURNS} turns`,
      usage: paidFor(TURNS),
    });
    expect(server.requests).toHaveLength(FAIL_AT_TURN + (TURNS - FAIL_AT_TURN + 1));
    expect(readTicks(dir)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(blobsIn(blobsDir).count).toBe(0);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
