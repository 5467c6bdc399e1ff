/**
 * What `tao gc` must keep, read from Temporal: the state that live runs may
 * still use. A run is live while it is open, and for the retention after it
 * closed: within that time `tao rerun` may read its history (outputs that
 * went to the blob store included) and a new run with its checkpoint id
 * resumes from its checkpoint. Earlier executions of a live run (it
 * continued as new) and its child runs (partitions) are read with it, as
 * `tao rerun` reads them.
 *
 * The marks come from the server, not from the stores, because only the
 * server knows which runs are live: blob keys from every claim-check
 * reference in a live run's history and, for an open run, in its pending
 * activities' heartbeat details; checkpoint ids from each live run's id and
 * input. Whatever cannot be read (a history; the input of a run of TAO's
 * workflow types) fails the whole collection: a mark missed would be a live
 * run's state removed.
 */
import type { Client } from '@temporalio/client';
import { isGrpcServiceError } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { isBlobKey } from '../blobs/blob-store';
import { claimCheckKey } from '../codec';
import { WORKFLOW_TYPES } from './start';

export interface LiveRuns {
  /** Executions read: live runs, their earlier executions and their children. */
  executions: number;
  /** Run ids of the open executions: their running steps' states stay. */
  openRunIds: Set<string>;
  /**
   * Workflow ids of every execution read, its history gone or not: a step's
   * transcript is keyed by its workflow id (src/activities/agent-step.ts),
   * which every execution a run continued as new into shares, and a child's
   * steps are under the child's own.
   */
  workflowIds: Set<string>;
  /** Checkpoint ids a live run names (its input's `checkpointId`, or its workflow id, the default). */
  checkpointIds: Set<string>;
  /** Blobs a live run's payloads refer to. */
  blobKeys: Set<string>;
  /** Manifests of items a live run reads by reference (src/items): a `{ blob }` source anywhere in its input. */
  itemManifests: Set<string>;
}

interface Execution {
  workflowId: string;
  runId: string;
  open: boolean;
}

/** The workflow types TAO starts (a split run's children are of its own type). */
const TAO_TYPES = new Set<string>(Object.values(WORKFLOW_TYPES));
/** gRPC's NOT_FOUND. */
const NOT_FOUND = 5;
/** Histories read at once: enough to hide the round trips, few enough for a shared frontend. */
const READ_AT_ONCE = 8;

/** Reads every run open now or closed after `cutoffMs`, with what it holds on to. */
export async function liveRuns(client: Client, cutoffMs: number): Promise<LiveRuns> {
  const live: LiveRuns = {
    executions: 0,
    openRunIds: new Set(),
    workflowIds: new Set(),
    checkpointIds: new Set(),
    blobKeys: new Set(),
    itemManifests: new Set(),
  };
  const queue: Execution[] = [];
  const query = `ExecutionStatus = "Running" OR CloseTime > "${new Date(cutoffMs).toISOString()}"`;
  for await (const run of client.workflow.list({ query })) {
    const open = run.status.name === 'RUNNING';
    if (open) live.openRunIds.add(run.runId);
    queue.push({ workflowId: run.workflowId, runId: run.runId, open });
  }
  const seen = new Set<string>();
  while (queue.length > 0) {
    const batch = queue.splice(0, READ_AT_ONCE).filter((run) => !seen.has(run.runId));
    for (const run of batch) {
      seen.add(run.runId);
      live.workflowIds.add(run.workflowId);
    }
    const related = await Promise.all(batch.map((run) => readExecution(client, run, live)));
    queue.push(...related.flat());
  }
  live.executions = seen.size;
  return live;
}

/** Marks what one execution holds; returns the executions it leads to (an earlier one, its children). */
async function readExecution(client: Client, run: Execution, live: LiveRuns): Promise<Execution[]> {
  const handle = client.workflow.getHandle(run.workflowId, run.runId);
  let events;
  try {
    events = (await handle.fetchHistory()).events ?? [];
  } catch (error) {
    // Gone past the namespace's own retention: nothing of it can be read again, so nothing to keep.
    if (isGrpcServiceError(error) && error.code === NOT_FOUND) return [];
    throw error;
  }
  markBlobs(events, live.blobKeys);
  if (run.open) markBlobs((await handle.describe()).raw.pendingActivities, live.blobKeys);

  const started = events[0]?.workflowExecutionStartedEventAttributes;
  live.checkpointIds.add(run.workflowId);
  const input = await decodeFromPayloadsAtIndex<{ checkpointId?: unknown } | undefined>(
    client.options.loadedDataConverter,
    0,
    started?.input?.payloads,
  ).catch((error: unknown) => {
    // A workflow of another kind, in a namespace shared with other teams, may encode its input its own way:
    // it is no run of TAO's and names no checkpoint. One of TAO's that cannot be read might.
    if (!TAO_TYPES.has(started?.workflowType?.name ?? '')) return undefined;
    throw new Error(
      `cannot read the input of run ${run.workflowId} (${run.runId}): ${(error as Error).message.split('\n')[0]}; nothing was removed`,
    );
  });
  if (typeof input?.checkpointId === 'string') live.checkpointIds.add(input.checkpointId);
  markItemSources(input, live.itemManifests);

  const related: Execution[] = [];
  const earlier = started?.continuedExecutionRunId;
  if (earlier) related.push({ workflowId: run.workflowId, runId: earlier, open: false });
  for (const event of events) {
    const child = event.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    if (child?.workflowId && child.runId) {
      related.push({ workflowId: child.workflowId, runId: child.runId, open: false });
    }
  }
  return related;
}

/** Adds the key of every claim-check reference anywhere in `value` (a history, a describe answer). */
function markBlobs(value: unknown, keys: Set<string>): void {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return;
  if (isPayload(value)) {
    const key = claimCheckKey(value);
    if (key !== undefined) keys.add(key);
    return;
  }
  for (const inner of Array.isArray(value) ? value : Object.values(value)) markBlobs(inner, keys);
}

/**
 * Adds the manifest key of every blob item source in a run's input, wherever
 * the workflow keeps it: an object that is exactly `{ blob: <blob key> }`.
 */
function markItemSources(value: unknown, keys: Set<string>): void {
  if (value === null || typeof value !== 'object') return;
  const { blob, ...rest } = value as { blob?: unknown };
  if (typeof blob === 'string' && isBlobKey(blob) && Object.keys(rest).length === 0) {
    keys.add(blob);
    return;
  }
  for (const inner of Array.isArray(value) ? value : Object.values(value)) markItemSources(inner, keys);
}

function isPayload(value: object): value is Payload {
  const metadata = (value as Payload).metadata;
  return typeof metadata === 'object' && metadata !== null && ArrayBuffer.isView(metadata.encoding);
}
