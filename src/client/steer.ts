/**
 * Steering a running run from a client: the `pause`, `resume`,
 * `setConcurrency` and `cancelStep` updates (see workflows/lib/controls). A
 * refusal by the workflow's validator, or a run that is not running, is one
 * plain Error saying why.
 */
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import {
  type RunControlState,
  cancelStepUpdate,
  pauseUpdate,
  resumeUpdate,
  setConcurrencyUpdate,
} from '../workflows/lib/controls';

export type { RunControlState };

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

/** Stops one step (aborting its agent) or keeps a pending one from starting; its outcome is "cancelled by user". */
export const cancelStep = (handle: WorkflowHandle, taskId: string) =>
  steer(handle, 'cancel', () => handle.executeUpdate(cancelStepUpdate, { args: [{ taskId }] }));
