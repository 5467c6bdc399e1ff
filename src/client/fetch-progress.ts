import type { WorkflowHandle } from '@temporalio/client';
import { type Progress, progressQuery } from '../workflows/lib/progress';

/**
 * The run's live step view, or `undefined` when no worker answered within
 * `timeoutMs` (none is polling the task queue, or it is busy starting).
 */
export async function fetchProgress(
  handle: WorkflowHandle,
  timeoutMs = 3_000,
): Promise<Progress | undefined> {
  try {
    return await handle.client.connection.withDeadline(Date.now() + timeoutMs, () =>
      handle.query(progressQuery),
    );
  } catch {
    return undefined;
  }
}
