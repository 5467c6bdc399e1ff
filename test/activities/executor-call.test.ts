/** The executor call on its own: what an executor returns is checked before anything else sees it. */
import { callExecutor } from '../../src/activities/executor-call';
import type { StepOutcome } from '../../src/contracts';
import { type AgentExecutor, type ExecutorResult, NonRetryableStepError } from '../../src/executors/executor';
import { llmSpec, stepContext } from '../support/llm-harness';

const returning = (result: unknown): AgentExecutor => ({
  concurrencyHint: () => 1,
  executeStep: async () => result as ExecutorResult,
});
const pending = new Promise<never>(() => {});
const ok: StepOutcome = { taskId: 't1', agent: 'explore', sessionId: 's', output: 'ok', success: true };
const delegation = { calls: [], state: {}, maxDepth: 1 };

test('a valid outcome passes as it is', async () => {
  await expect(callExecutor(returning(ok), llmSpec(), stepContext(), pending)).resolves.toEqual({
    outcome: ok,
  });
});

test('a bad outcome, or a delegation the workflow did not offer or that does not parse, is not retried', async () => {
  const call = (result: unknown, offered: boolean) =>
    callExecutor(
      returning(result),
      llmSpec(),
      { ...stepContext(), ...(offered ? { delegation: { depth: 0 } } : {}) },
      pending,
    ).catch((e: unknown) => e);
  const bad = await call({ ...ok, success: 'yes' }, false);
  expect(bad).toBeInstanceOf(NonRetryableStepError);
  expect((bad as Error).message).toMatch(/^executor returned a bad outcome: success/);
  expect(await call({ delegation }, false)).toMatchObject({
    message: 'the executor delegated tasks, but this workflow does not run delegated tasks',
  });
  const badDelegation = await call({ delegation }, true);
  expect(badDelegation).toBeInstanceOf(NonRetryableStepError);
  expect((badDelegation as Error).message).toMatch(/^executor returned a bad delegation: calls/);
});

test('a stall settles the call even while the executor never does', async () => {
  const stall = new Error('stalled');
  const hanging: AgentExecutor = { concurrencyHint: () => 1, executeStep: () => pending };
  await expect(callExecutor(hanging, llmSpec(), stepContext(), Promise.reject(stall))).rejects.toBe(stall);
});
