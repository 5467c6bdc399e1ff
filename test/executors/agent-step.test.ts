/** How executor errors and progress reach Temporal through the agent-step activity. */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createAgentStepActivity } from '../../src/activities/agent-step';
import type { StepRun } from '../../src/activity-api';
import type { AgentStepSpec, StepOutcome } from '../../src/contracts';
import {
  type AgentExecutor,
  NonRetryableStepError,
  RetryableStepError,
  type StepContext,
} from '../../src/executors/executor';
import { MemorySessionStore } from '../../src/stores/memory-store';
import { eventually } from '../support/gate-executor';
import { llmSpec } from '../support/llm-harness';

/** An executor whose step does whatever the test says. */
const executorDoing = (step: (context: StepContext) => Promise<StepOutcome>): AgentExecutor => ({
  concurrencyHint: () => 1,
  executeStep: (_spec: AgentStepSpec, context) => step(context),
});

/** These tests fail activities on purpose; the SDK's warnings about it are noise here. */
const mockEnvironment = (info: Parameters<typeof attemptInfo>[0] & { heartbeatTimeoutMs?: number }) =>
  new MockActivityEnvironment(attemptInfo(info), { logger: new DefaultLogger('ERROR') });

/** Attempt n as the server schedules it: each one later than the one before. */
function attemptInfo(info: {
  attempt: number;
  heartbeatDetails?: unknown;
  maximumAttempts?: number;
  workflowId?: string;
}) {
  const { maximumAttempts, workflowId = 'wf', ...rest } = info;
  return {
    ...rest,
    workflowExecution: { workflowId, runId: 'run-1' },
    activityId: '3',
    currentAttemptScheduledTimestampMs: 1_000 * info.attempt,
    ...(maximumAttempts !== undefined
      ? { retryPolicy: { maximumAttempts, initialInterval: 1_000, backoffCoefficient: 2 } }
      : {}),
  };
}

async function runActivity(
  executor: AgentExecutor,
  env = mockEnvironment({ attempt: 2 }),
  store?: MemorySessionStore,
): Promise<StepRun> {
  const { executeAgentStep } = createAgentStepActivity(executor, { store });
  return env.run(executeAgentStep, llmSpec());
}

describe('agent-step activity', () => {
  test('a RetryableStepError with retryAfterMs asks Temporal for exactly that delay', async () => {
    const failure = await runActivity(
      executorDoing(async () => {
        throw new RetryableStepError('rate limited', 1_500);
      }),
    ).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({
      message: 'rate limited',
      type: 'AgentStepError',
      nonRetryable: false,
      nextRetryDelay: 1_500,
      details: [{ attempt: 2 }],
    });
  });

  test('without a delay it is an ordinary retryable failure; NonRetryableStepError is not retried', async () => {
    await expect(
      runActivity(
        executorDoing(async () => {
          throw new RetryableStepError('502 from upstream');
        }),
      ),
    ).rejects.toMatchObject({ type: 'AgentStepError', nonRetryable: false, nextRetryDelay: undefined });
    await expect(
      runActivity(
        executorDoing(async () => {
          throw new NonRetryableStepError('bad key');
        }),
      ),
    ).rejects.toMatchObject({ type: 'AgentStepCrashed', nonRetryable: true });
  });

  test("heartbeats carry the executor's latest progress, and usage survives outcome validation", async () => {
    const env = mockEnvironment({ attempt: 1, heartbeatTimeoutMs: 300 });
    const beats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => beats.push(details));
    const usage = { inputTokens: 12, outputTokens: 3, model: 'm', latencyMs: 40 };
    const result = await runActivity(
      executorDoing(async (context) => {
        context.heartbeat({ round: 1 });
        // The step goes on until the activity's ticker has beaten on its own at least once.
        await eventually(async () => (beats.length >= 2 ? true : undefined));
        return { taskId: 't1', agent: 'explore', sessionId: 's', output: 'ok', success: true, usage };
      }),
      env,
    );
    expect(result).toMatchObject({ outcome: { usage } });
    expect(beats.length).toBeGreaterThanOrEqual(2);
    expect(new Set(beats.map((b) => JSON.stringify(b)))).toEqual(
      new Set([JSON.stringify({ taskId: 't1', info: { round: 1 } })]),
    );
  });
});

describe('agent-step activity: the stall limit', () => {
  const STALLED = /^step "t1" \(agent explore\) stalled: no progress from its executor for [\d.]+ s/;
  /** Runs one attempt with the worker's limit at a minute; the spec's own limit, when given, wins. */
  const attemptWith = (executor: AgentExecutor, specStallMs?: number) =>
    mockEnvironment({ attempt: 1, maximumAttempts: 5 }).run(
      createAgentStepActivity(executor, { stallTimeoutMs: 60_000 }).executeAgentStep,
      llmSpec(specStallMs !== undefined ? { stallTimeoutMs: specStallMs } : {}),
    );

  test("an executor silent for the spec's limit has its signal aborted, and the attempt fails retryably, saying why", async () => {
    let sawAbort = false;
    const failure = await attemptWith(
      executorDoing(async (context) => {
        context.output('half an answer');
        await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
        sawAbort = true;
        throw new Error('request aborted'); // what a provider SDK says; the stall is the reason
      }),
      200,
    ).catch((e: unknown) => e);
    expect(sawAbort).toBe(true);
    expect(failure).toMatchObject({ type: 'AgentStepError', nonRetryable: false, details: [{ attempt: 1 }] });
    expect((failure as Error).message).toMatch(STALLED);
    expect((failure as Error).message).toContain('(last progress: output), over the 0.2 s stall limit');
  });

  test("without the spec's, the executor's limit for the agent applies, over the worker's", async () => {
    const silent = executorDoing(() => new Promise<never>(() => {}));
    const failure = await attemptWith({ ...silent, stallTimeoutMs: () => 200 }).catch((e: unknown) => e);
    expect((failure as Error).message).toMatch(STALLED);
    expect((failure as Error).message).toContain('over the 0.2 s stall limit');
  });

  test('an executor that ignores its aborted signal still loses the attempt at the limit', async () => {
    const failure = await attemptWith(
      executorDoing(() => new Promise<never>(() => {})),
      200,
    ).catch((e: unknown) => e);
    expect(failure).toMatchObject({ type: 'AgentStepError', nonRetryable: false });
    expect((failure as Error).message).toMatch(STALLED);
  });
});

describe('agent-step activity: the step state in the store', () => {
  const KEY = 'wf/run-1/3';
  const ok: StepOutcome = { taskId: 't1', agent: 'explore', sessionId: 's', output: 'ok', success: true };
  const beatOf = (resume: unknown, seq: number) => ({ taskId: 't1', resume, seq });

  test('saveState resolves once the store holds the state; the beat carries it too; a retry is handed it and the end removes it', async () => {
    const store = new MemorySessionStore();
    const env = mockEnvironment({ attempt: 1, heartbeatTimeoutMs: 30_000, maximumAttempts: 5 });
    const beats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => beats.push(details));
    const held: unknown[] = [];
    const failure = await runActivity(
      executorDoing(async (context) => {
        for (const turn of [1, 2]) {
          await context.saveState({ turn });
          held.push((await store.loadStepState(KEY))?.state);
        }
        throw new Error('provider reset the connection');
      }),
      env,
      store,
    ).catch((e: unknown) => e);
    expect(failure).toMatchObject({ type: 'AgentStepError', nonRetryable: false });
    expect(held).toEqual([{ turn: 1 }, { turn: 2 }]);
    expect(beats.at(-1)).toEqual(beatOf({ turn: 2 }, 2));
    // Not the last attempt: the record stays for the retry, which goes on from it (its heartbeat lagged behind).
    expect(await store.loadStepState(KEY)).toMatchObject({ attempt: 1, seq: 2, state: { turn: 2 } });
    let resumed: unknown;
    const lagging = beatOf({ turn: 1 }, 1);
    await runActivity(
      executorDoing(async (context) => {
        resumed = context.resumeState;
        await context.saveState({ turn: 3 });
        expect(await store.loadStepState(KEY)).toMatchObject({ attempt: 2, seq: 3 });
        return ok;
      }),
      mockEnvironment({ attempt: 2, heartbeatDetails: lagging, maximumAttempts: 5 }),
      store,
    );
    expect(resumed).toEqual({ turn: 2 });
    expect(await store.listStepStates()).toEqual([]);
  });

  test('a heartbeat further on than the store wins; so does a store when the heartbeat has no state', async () => {
    const store = new MemorySessionStore();
    const record = { attempt: 1, attemptScheduledMs: 1_000, seq: 3, savedMs: 0, state: { turn: 3 } };
    await store.saveStepState(KEY, record);
    const resumedWith = async (heartbeatDetails: unknown) => {
      let resumed: unknown;
      let savedSeq: number | undefined;
      const failure = await runActivity(
        executorDoing(async (context) => {
          resumed = context.resumeState;
          await context.saveState({ next: true });
          savedSeq = (await store.loadStepState(KEY))?.seq;
          throw new Error('again');
        }),
        mockEnvironment({ attempt: 2, heartbeatDetails, maximumAttempts: 5 }),
        store,
      ).catch((e: unknown) => e);
      expect(failure).toMatchObject({ message: 'again' });
      await store.deleteStepState(KEY);
      await store.saveStepState(KEY, record);
      return { resumed, savedSeq };
    };
    expect(await resumedWith(beatOf({ turn: 5 }, 5))).toEqual({ resumed: { turn: 5 }, savedSeq: 6 });
    expect(await resumedWith(beatOf({ turn: 2 }, 2))).toEqual({ resumed: { turn: 3 }, savedSeq: 4 });
    expect(await resumedWith({ taskId: 't1', info: { round: 2 } })).toEqual({
      resumed: { turn: 3 },
      savedSeq: 4,
    });
  });

  test("an attempt the server gave up on stops at its next save and leaves the later attempt's record alone", async () => {
    const store = new MemorySessionStore();
    const later = { attempt: 3, attemptScheduledMs: 3_000, seq: 4, savedMs: 0, state: { turn: 4 } };
    // The later attempt has written its record; this one, still running on its worker, is about to save.
    await store.saveStepState(KEY, later);
    let toolRan = false;
    const refused = await runActivity(
      executorDoing(async (context) => {
        await context.saveState({ turn: 9 });
        toolRan = true;
        return ok;
      }),
      mockEnvironment({ attempt: 2, maximumAttempts: 3 }),
      store,
    ).catch((e: unknown) => e);
    expect(refused).toMatchObject({
      type: 'AgentStepError',
      message: expect.stringContaining('a later attempt has taken over'),
    });
    expect(toolRan).toBe(false);
    expect(await store.loadStepState(KEY)).toEqual(later);
  });

  test('a failure nothing will retry removes the record: a non-retryable error, the last attempt', async () => {
    for (const [attempt, error, failure] of [
      [2, new NonRetryableStepError('bad key'), { type: 'AgentStepCrashed', nonRetryable: true }],
      [5, new Error('still down'), { type: 'AgentStepError', nonRetryable: false }],
    ] as const) {
      const store = new MemorySessionStore();
      await expect(
        runActivity(
          executorDoing(async (context) => {
            await context.saveState({ turn: 1 });
            throw error;
          }),
          mockEnvironment({ attempt, maximumAttempts: 5 }),
          store,
        ),
      ).rejects.toMatchObject({ ...failure, message: error.message, details: [{ attempt }] });
      expect(await store.listStepStates()).toEqual([]);
    }
  });

  test('a workflow id no store could hold in a key is hashed there, the same for every attempt', async () => {
    const store = new MemorySessionStore();
    const workflowId = `nightly\n${'x'.repeat(2_000)}`;
    let resumed: unknown;
    for (const attempt of [1, 2]) {
      await expect(
        runActivity(
          executorDoing(async (context) => {
            resumed = context.resumeState;
            await context.saveState({ attempt });
            throw new Error('again');
          }),
          mockEnvironment({ attempt, workflowId, maximumAttempts: 5 }),
          store,
        ),
      ).rejects.toMatchObject({ type: 'AgentStepError', nonRetryable: false, message: 'again' });
    }
    expect(resumed).toEqual({ attempt: 1 });
    const [held] = await store.listStepStates();
    expect(held!.key).toMatch(/^sha256:[0-9a-f]{64}\/run-1\/[0-9a-f]{64}$/);
  });
});
