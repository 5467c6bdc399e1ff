import type { WorkflowHandle } from '@temporalio/client';
import { type Progress, type StepStatus, progressQuery } from '../workflows/lib/progress';

/**
 * What `ask` (a query of the run) answers, or `undefined` when no worker
 * answered within `timeoutMs` (none is polling the task queue, it is busy
 * starting, or it went away mid-read): a run without a worker must not stall
 * a page or a command that reads many runs.
 */
export async function askRun<T>(
  handle: WorkflowHandle,
  timeoutMs: number,
  ask: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await handle.client.connection.withDeadline(Date.now() + timeoutMs, ask);
  } catch {
    return undefined;
  }
}

/** The run's live step view, or `undefined` when no worker answered within `timeoutMs`. */
export function fetchProgress(handle: WorkflowHandle, timeoutMs = 3_000): Promise<Progress | undefined> {
  return askRun(handle, timeoutMs, () => handle.query(progressQuery));
}

/**
 * The run's progress with its child partitions' steps counted in `totals`
 * (each child keeps its steps in its own progress): running children are
 * asked, at any depth; ended ones count as their parent recorded them, and
 * pending ones as pending. `steps` stays the run's own.
 */
export async function fetchRunProgress(
  handle: WorkflowHandle,
  timeoutMs = 3_000,
): Promise<Progress | undefined> {
  const progress = await fetchProgress(handle, timeoutMs);
  if (!progress?.partitions?.length) return progress;
  const totals = { ...progress.totals };
  const add = (status: StepStatus, n: number) => {
    totals[status] += n;
    totals.all += n;
  };
  await Promise.all(
    progress.partitions.map(async (partition) => {
      const { outcomes, count } = partition;
      const live =
        partition.status === 'running'
          ? await fetchRunProgress(handle.client.getHandle(partition.workflowId), timeoutMs)
          : undefined;
      if (live) {
        for (const [status, n] of Object.entries(live.totals))
          if (status !== 'all') add(status as StepStatus, n);
      } else if (outcomes && (partition.status === 'succeeded' || partition.status === 'failed')) {
        add('succeeded', outcomes.succeeded);
        add('failed', outcomes.failed);
      } else if (outcomes) {
        add('pending', count);
      }
    }),
  );
  return { ...progress, totals };
}
