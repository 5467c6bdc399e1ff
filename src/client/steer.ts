/**
 * Steering a running run from a client: the `pause`, `resume`,
 * `setConcurrency` and `cancelStep` updates (see workflows/lib/controls), and
 * the decisions `approve` and `reject` (workflows/lib/approvals). A
 * refusal by the workflow's validator, or a run that is not running, is one
 * plain Error saying why.
 */
import { type Client, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { Budget } from '../contracts';
import { type Decision, approveUpdate, rejectUpdate } from '../workflows/lib/approvals';
import { setBudgetUpdate } from '../workflows/lib/budget';
import type { Progress } from '../workflows/lib/progress';
import { fetchProgress } from './fetch-progress';
import { decisionText } from './step-detail';
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

export interface PendingDecision {
  workflowId: string;
  taskId: string;
  agent?: string;
  /**
   * `before`: the step waits to start; `after`: its outcome waits to count;
   * `budget`: it waits to start on a spent budget (raise it, or approve or reject the step).
   */
  decision: 'before' | 'after' | 'budget';
  /** For `budget`: which limit is spent, e.g. `budget exhausted (steps 2/2)`. */
  reason?: string;
  /** With `withText`: what is to be decided, the prompt (before) or the output (after), when history has it. */
  text?: string;
}

/**
 * Steps waiting for a decision across the running runs the visibility `query`
 * selects (default: every running workflow). Runs whose worker does not
 * answer within `timeoutMs` are skipped, and named in `unanswered`.
 */
export async function pendingDecisions(
  client: Client,
  options: { query?: string; timeoutMs?: number; withText?: boolean } = {},
): Promise<{ pending: PendingDecision[]; unanswered: string[] }> {
  const pending: PendingDecision[] = [];
  const unanswered: string[] = [];
  const query = options.query ?? 'ExecutionStatus = "Running"';
  const asks: Promise<void>[] = [];
  for await (const run of client.workflow.list({ query })) {
    const handle = client.workflow.getHandle(run.workflowId, run.runId);
    asks.push(
      fetchProgress(handle, options.timeoutMs).then((progress?: Progress) => {
        if (!progress) return void unanswered.push(run.workflowId);
        for (const step of progress.steps) {
          if (step.status === 'waiting' && step.taskId) {
            pending.push({
              workflowId: run.workflowId,
              taskId: step.taskId,
              ...(step.agent ? { agent: step.agent } : {}),
              decision: step.decision ?? 'before',
              ...(step.decision === 'budget' && step.error ? { reason: step.error } : {}),
            });
          }
        }
      }),
    );
  }
  await Promise.all(asks);
  if (options.withText) {
    await Promise.all(
      pending.map(async (step) => {
        const text = await decisionText(
          client.workflow.getHandle(step.workflowId),
          step.taskId,
          step.decision,
        );
        if (text !== undefined) step.text = text;
      }),
    );
  }
  const order = (a: PendingDecision, b: PendingDecision) =>
    `${a.workflowId}\0${a.taskId}` < `${b.workflowId}\0${b.taskId}` ? -1 : 1;
  return { pending: pending.sort(order), unanswered: unanswered.sort() };
}
