/**
 * Steering a running run from a client: the `pause`, `resume`,
 * `setConcurrency` and `cancelStep` updates (see workflows/lib/controls), the
 * decisions `approve` and `reject` (workflows/lib/approvals), and `message`
 * (workflows/lib/messages). A
 * refusal by the workflow's validator, or a run that is not running, is one
 * plain Error saying why.
 */
import { type Client, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import type { Budget } from '../contracts';
import {
  type Decision,
  type WaitingToolCall,
  answerUpdate,
  approveUpdate,
  rejectUpdate,
} from '../workflows/lib/approvals';
import type { DecisionKind } from '../workflows/lib/progress';
import { setBudgetUpdate } from '../workflows/lib/budget';
import { messageUpdate } from '../workflows/lib/messages';
import { WAITING_STEPS_ATTRIBUTE } from '../workflows/lib/waiting-attribute';
import { fetchProgress } from './fetch-progress';
import { startedEvent } from './run-history';
import { decisionText, waitingToolCall } from './step-detail';
import {
  type RunControlState,
  cancelStepUpdate,
  pauseUpdate,
  resumeUpdate,
  setConcurrencyUpdate,
} from '../workflows/lib/controls';

export type { Decision, RunControlState };

async function steer<R>(handle: WorkflowHandle, action: string, send: () => Promise<R>): Promise<R> {
  const { status } = await handle.describe();
  if (status.name !== 'RUNNING') {
    throw new Error(`${handle.workflowId} is ${status.name}, not running; nothing to ${action}`);
  }
  try {
    return await send();
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) {
      const cause = error.cause instanceof Error ? error.cause.message : String(error.cause);
      throw new Error(`${handle.workflowId}: ${cause}`);
    }
    throw error;
  }
}

/** No new step starts until {@link resumeRun}; running steps finish. */
export const pauseRun = (handle: WorkflowHandle) =>
  steer(handle, 'pause', () => handle.executeUpdate(pauseUpdate));

export const resumeRun = (handle: WorkflowHandle) =>
  steer(handle, 'resume', () => handle.executeUpdate(resumeUpdate));

/** The new bound on steps (chains, for a pipeline) in flight. */
export const setRunConcurrency = (handle: WorkflowHandle, limit: number) =>
  steer(handle, 'change', () => handle.executeUpdate(setConcurrencyUpdate, { args: [{ limit }] }));

/**
 * Stops one step (aborting its agent) or keeps a pending one from starting; its outcome is "cancelled by user".
 * In a run split into child workflows, the update goes to the running child that holds the step.
 */
export async function cancelStep(handle: WorkflowHandle, taskId: string) {
  const holder = (await holderOf(handle, taskId)) ?? handle;
  return steer(holder, 'cancel', () => holder.executeUpdate(cancelStepUpdate, { args: [{ taskId }] }));
}

/**
 * Sends a person's message to one step (`tao say`): its agent reads it as a
 * user turn before its next model call, once; a step that has not started
 * gets it with its prompt. Resolves with the message's number for the step
 * once the run has taken it; a step that has ended, or an executor that
 * cannot read messages, is refused with the reason. In a run split into
 * child workflows it goes to the running child that holds the step.
 */
export async function sendMessage(handle: WorkflowHandle, taskId: string, text: string) {
  const holder = (await holderOf(handle, taskId)) ?? handle;
  return steer(holder, 'message', () => holder.executeUpdate(messageUpdate, { args: [{ taskId, text }] }));
}

/** The run, or the running partition at any depth, whose own steps include `taskId`; each is asked once. */
async function holderOf(handle: WorkflowHandle, taskId: string): Promise<WorkflowHandle | undefined> {
  const progress = await fetchProgress(handle);
  if (progress?.steps.some((step) => step.taskId === taskId)) return handle;
  for (const partition of progress?.partitions ?? []) {
    if (partition.status !== 'running') continue;
    const holder = await holderOf(handle.client.getHandle(partition.workflowId), taskId);
    if (holder) return holder;
  }
  return undefined;
}

/** Changes the run's budget limits (the ones given; the others stay); steps waiting on a spent budget go on. */
export const setRunBudget = (handle: WorkflowHandle, limits: Budget) =>
  steer(handle, 'change', () => handle.executeUpdate(setBudgetUpdate, { args: [limits] }));

/** Lets a step waiting for approval go on; `output` replaces its output (approving an outcome only). */
export const approveStep = (handle: WorkflowHandle, decision: Decision) =>
  steer(handle, 'approve', () => handle.executeUpdate(approveUpdate, { args: [decision] }));

/** Rejects a waiting step: it ends `success: false` with the comment as its error. */
export const rejectStep = (handle: WorkflowHandle, decision: Decision) =>
  steer(handle, 'reject', () => handle.executeUpdate(rejectUpdate, { args: [decision] }));

/** Answers the question a step's agent asked (`ask_user`): the agent goes on with `text` as the tool's result. */
export const answerStep = (handle: WorkflowHandle, taskId: string, text: string) =>
  steer(handle, 'answer', () => handle.executeUpdate(answerUpdate, { args: [{ taskId, text }] }));

export interface PendingDecision {
  workflowId: string;
  taskId: string;
  agent?: string;
  /**
   * `before`: the step waits to start; `after`: its outcome waits to count;
   * `budget`: it waits to start on a spent budget (raise it, or approve or reject the step);
   * `question`: its agent asked a question ({@link answerStep});
   * `tool`: its agent's tool call waits (approve, with `input` or `forRun`, or reject).
   */
  decision: DecisionKind;
  /** For `budget`: which limit is spent, e.g. `budget exhausted (steps 2/2)`. */
  reason?: string;
  /** With `withText`: what is to be decided: the prompt (before), the output (after), the question or the tool call, when at hand. */
  text?: string;
  /** With `withText`, for `tool`: the call, its arguments, the agent's reason and the rule that asked. */
  toolCall?: WaitingToolCall;
}

/** How many runs the inbox asks at once: a namespace may hold many runs with waiting steps. */
export const INBOX_CONCURRENCY = 16;

/**
 * The visibility query for the running runs with a step waiting for a
 * decision: those whose `TaoWaitingSteps` search attribute is set (see
 * workflows/lib/waiting-attribute), among those `query` selects.
 */
export function waitingRunsQuery(query?: string): string {
  const waiting = `${WAITING_STEPS_ATTRIBUTE} IS NOT NULL AND ExecutionStatus = "Running"`;
  return query ? `${waiting} AND (${query})` : waiting;
}

/**
 * Steps waiting for a decision across the running runs the visibility `query`
 * selects (default: every running run), found with one visibility query
 * ({@link waitingRunsQuery}): only runs with a waiting step are asked, at
 * most {@link INBOX_CONCURRENCY} at once, never another team's workflows.
 * Runs whose worker does not answer within `timeoutMs` are skipped, and
 * named in `unanswered`.
 */
export async function pendingDecisions(
  client: Client,
  options: { query?: string; timeoutMs?: number; withText?: boolean } = {},
): Promise<{ pending: PendingDecision[]; unanswered: string[] }> {
  const pending: PendingDecision[] = [];
  const unanswered: string[] = [];
  const runs: { workflowId: string; runId: string; type: string }[] = [];
  for await (const run of client.workflow.list({ query: waitingRunsQuery(options.query) })) runs.push(run);
  await forEachBounded(runs, INBOX_CONCURRENCY, async (run) => {
    const progress = await fetchProgress(
      client.workflow.getHandle(run.workflowId, run.runId),
      options.timeoutMs,
    );
    if (!progress) return void unanswered.push(run.workflowId);
    const found: PendingDecision[] = [];
    for (const step of progress.steps) {
      if (step.status === 'waiting' && step.taskId) {
        found.push({
          workflowId: run.workflowId,
          taskId: step.taskId,
          ...(step.agent ? { agent: step.agent } : {}),
          decision: step.decision ?? 'before',
          ...(step.decision === 'budget' && step.error ? { reason: step.error } : {}),
        });
      }
    }
    if (options.withText && SPECS_AS_STARTED.has(run.type) && found.some(waitsToStart)) {
      const prompts = await startPrompts(client, run);
      for (const step of found.filter(waitsToStart)) {
        const prompt = prompts.get(step.taskId);
        if (prompt !== undefined) step.text = prompt;
      }
    }
    pending.push(...found);
  });
  if (options.withText) {
    await forEachBounded(pending, INBOX_CONCURRENCY, async (step) => {
      const handle = client.workflow.getHandle(step.workflowId);
      const text = step.text ?? (await decisionText(handle, step.taskId, step.decision));
      if (text !== undefined) step.text = text;
      const toolCall = step.decision === 'tool' ? await waitingToolCall(handle, step.taskId) : undefined;
      if (toolCall) step.toolCall = toolCall;
    });
  }
  const order = (a: PendingDecision, b: PendingDecision) =>
    `${a.workflowId}\0${a.taskId}` < `${b.workflowId}\0${b.taskId}` ? -1 : 1;
  return { pending: pending.sort(order), unanswered: unanswered.sort() };
}

/**
 * The run kinds whose steps wait to start with the prompt of their spec as the run was started with it: a
 * parallel or resumable run's specs (a partition's, its slice) are its input, and the workflow never changes a
 * prompt. A pipeline's stages are rendered in the workflow, a loop's later rounds and delegated tasks are not
 * in its input: those the run is asked for.
 */
const SPECS_AS_STARTED = new Set(['parallelWorkflow', 'resumableParallelWorkflow']);

/** Before it starts, or on a spent budget: the step waits with its spec's prompt. */
const waitsToStart = (step: PendingDecision) => step.decision === 'before' || step.decision === 'budget';

/**
 * The prompts of the specs `run` was started with, by task id, from its first history event: one read for
 * all its steps waiting to start, where asking the run for each took 6 s for 1,000 (a run answers one query
 * at a time, so asking more at once does not help). Empty when the read fails: the run is asked instead.
 */
async function startPrompts(
  client: Client,
  run: { workflowId: string; runId: string },
): Promise<Map<string, string>> {
  const prompts = new Map<string, string>();
  try {
    const payloads = (await startedEvent(client.workflow, run))?.input?.payloads;
    if (!payloads?.length) return prompts;
    const input = await decodeFromPayloadsAtIndex<{ specs?: unknown }>(
      client.options.loadedDataConverter,
      0,
      payloads,
    );
    for (const spec of Array.isArray(input?.specs) ? (input.specs as unknown[]) : []) {
      const { taskId, prompt } = (spec ?? {}) as { taskId?: unknown; prompt?: unknown };
      if (typeof taskId === 'string' && typeof prompt === 'string') prompts.set(taskId, prompt);
    }
  } catch {
    prompts.clear();
  }
  return prompts;
}

/** `work` on every item, at most `limit` at a time. */
async function forEachBounded<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
