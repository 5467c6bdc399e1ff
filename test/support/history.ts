import type { Client, WorkflowHandle } from '@temporalio/client';
import { type Payload, defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { AgentStepSpec } from '../../src/contracts';

/**
 * The taskIds of the agent steps the server has recorded as completed
 * (`ActivityTaskCompleted` in history). Read from the server, so it holds
 * whatever state the workers are in, even when none is alive: a step listed
 * here will never be scheduled again by this execution.
 */
export async function completedStepIds(handle: WorkflowHandle): Promise<string[]> {
  const { events, taskIdOfScheduled } = await agentStepHistory(handle);
  return events.flatMap((event) => {
    const completed = event.activityTaskCompletedEventAttributes;
    const taskId = completed && taskIdOfScheduled.get(String(completed.scheduledEventId));
    return taskId ? [taskId] : [];
  });
}

export interface StepActivities {
  /** Steps whose last activity returned an outcome: finished, never scheduled again. */
  finished: string[];
  /**
   * Steps with an activity scheduled and not closed (no completed, failed,
   * timed-out or cancelled event yet): one a worker may be running. A step
   * whose activity returned a delegation request is in neither list while its
   * tasks run; it goes on in another activity, their outcomes in hand.
   */
  open: string[];
}

/** Where the run's agent-step activities stand, read from the server's history. */
export async function stepActivities(handle: WorkflowHandle): Promise<StepActivities> {
  const { events, taskIdOfScheduled } = await agentStepHistory(handle);
  const finished: string[] = [];
  const open = new Map(taskIdOfScheduled);
  for (const event of events) {
    const closed =
      event.activityTaskCompletedEventAttributes ??
      event.activityTaskFailedEventAttributes ??
      event.activityTaskTimedOutEventAttributes ??
      event.activityTaskCanceledEventAttributes;
    if (!closed) continue;
    const taskId = taskIdOfScheduled.get(String(closed.scheduledEventId));
    open.delete(String(closed.scheduledEventId));
    const result = event.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
    const value: unknown = result && defaultPayloadConverter.fromPayload(result as Payload);
    if (taskId && result && !(value && typeof value === 'object' && 'delegation' in value))
      finished.push(taskId);
  }
  return { finished, open: [...new Set(open.values())] };
}

/** The run's history, and the taskId of each agent-step activity by its scheduled event's id. */
async function agentStepHistory(handle: WorkflowHandle) {
  const events = (await handle.fetchHistory()).events ?? [];
  const taskIdOfScheduled = new Map<string, string>();
  for (const event of events) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name !== 'executeAgentStep') continue;
    const spec = defaultPayloadConverter.fromPayload<AgentStepSpec>(scheduled.input!.payloads![0] as Payload);
    taskIdOfScheduled.set(String(event.eventId), spec.taskId);
  }
  return { events, taskIdOfScheduled };
}

export type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/**
 * The events of every execution of a run: the first, those it continued as
 * new into, and those of every child it started (a split run's partitions),
 * in turn. Read in small pages: a page of delegating steps' events can pass
 * gRPC's 4 MB message limit.
 */
export async function everyExecution(
  client: Client,
  workflowId: string,
  runId: string,
): Promise<HistoryEvent[][]> {
  const histories: HistoryEvent[][] = [];
  const queue = [{ workflowId, runId }];
  for (let next = queue.shift(); next; next = queue.shift()) {
    const events: HistoryEvent[] = [];
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await client.workflowService.getWorkflowExecutionHistory({
        namespace: client.options.namespace,
        execution: next,
        maximumPageSize: 20,
        ...(nextPageToken ? { nextPageToken } : {}),
      });
      events.push(...(page.history?.events ?? []));
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    histories.push(events);
    for (const event of events) {
      const child = event.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      if (child) queue.push({ workflowId: child.workflowId!, runId: child.runId! });
    }
    const continued = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    if (continued) queue.push({ workflowId: next.workflowId, runId: continued });
  }
  return histories;
}

/** The most activities an execution had scheduled and not yet closed at once. */
export function peakActivitiesInFlight(events: readonly HistoryEvent[]): number {
  let open = 0;
  let peak = 0;
  for (const event of events) {
    if (event.activityTaskScheduledEventAttributes) peak = Math.max(peak, (open += 1));
    if (
      event.activityTaskCompletedEventAttributes ??
      event.activityTaskFailedEventAttributes ??
      event.activityTaskTimedOutEventAttributes ??
      event.activityTaskCanceledEventAttributes
    )
      open -= 1;
  }
  return peak;
}
