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
import { llmSpec } from '../support/llm-harness';

/** An executor whose step does whatever the test says. */
const executorDoing = (step: (context: StepContext) => Promise<StepOutcome>): AgentExecutor => ({
  concurrencyHint: () => 1,
  executeStep: (_spec: AgentStepSpec, context) => step(context),
});

/** These tests fail activities on purpose; the SDK's warnings about it are noise here. */
const mockEnvironment = (info: { attempt: number; heartbeatTimeoutMs?: number }) =>
  new MockActivityEnvironment(info, { logger: new DefaultLogger('ERROR') });

async function runActivity(executor: AgentExecutor, env = mockEnvironment({ attempt: 2 })): Promise<StepRun> {
  const { executeAgentStep } = createAgentStepActivity(executor);
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
        await new Promise((resolve) => setTimeout(resolve, 250)); // the ticker beats meanwhile
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
