/**
 * What a batch run's histories say of the worker kills it went through
 * (./batch-crash), beside what its outcome store's puts say (./crash-puts):
 * the steps a kill made run again whether or not they had put their outcome
 * (a put is the only trace ./crash-puts sees), and the workflow tasks the
 * server timed out, since a kill that catches one in flight stalls the whole
 * run for the task's timeout, whatever the steps' heartbeat timeout.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { everyExecution } from '../../test/support/history';

/** The activity that runs a step (src/activities/agent-step.ts). */
const STEP_ACTIVITY = 'executeAgentStep';

export interface CrashHistory {
  /** Steps the server recorded completed on a later attempt than their first. */
  stepsRetried: number;
  /** Workflow tasks timed out, by timeout type (START_TO_CLOSE: a worker died holding it; SCHEDULE_TO_START: a dead worker's sticky queue). */
  workflowTasksTimedOut: Record<string, number>;
}

export async function crashHistory(client: Client, workflowId: string): Promise<CrashHistory> {
  let first: { runId: string; startTime: Date } | undefined;
  for await (const execution of client.workflow.list({ query: `WorkflowId = "${workflowId}"` }))
    if (!first || execution.startTime < first.startTime) first = execution;
  const found: CrashHistory = { stepsRetried: 0, workflowTasksTimedOut: {} };
  for (const events of await everyExecution(client, workflowId, first!.runId)) {
    const steps = new Set<string>();
    for (const event of events) {
      if (event.activityTaskScheduledEventAttributes?.activityType?.name === STEP_ACTIVITY)
        steps.add(String(event.eventId));
      const started = event.activityTaskStartedEventAttributes;
      if (started && steps.has(String(started.scheduledEventId)) && (started.attempt ?? 1) > 1)
        found.stepsRetried += 1;
      const timedOut = event.workflowTaskTimedOutEventAttributes;
      if (timedOut) {
        const name = temporal.api.enums.v1.TimeoutType[timedOut.timeoutType ?? 0] ?? 'UNSPECIFIED';
        const type = name.replace('TIMEOUT_TYPE_', '');
        found.workflowTasksTimedOut[type] = (found.workflowTasksTimedOut[type] ?? 0) + 1;
      }
    }
  }
  return found;
}
