/**
 * Delegation at scale: a parallel run of leads that each hand 16 tasks to
 * other agents (the script executor's `delegate` rule, no model), as the
 * run-context issue measured before (50 leads 8 s, 100 leads 59 s, 200 not
 * done in 300 s, 1,000 stalled). For each size: the wall time, how many
 * executions the run took (it continues as new as its history fills), the
 * largest history, the longest workflow task (an activation: its started to
 * completed events) and the workflow tasks that failed or timed out.
 */
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

export const TASKS_PER_LEAD = 16;

/** `taskMs`: how long each delegated task takes (0: at once, as the issue measured; more: a model's pace). */
export const delegatingScript = (concurrency: number, taskMs = 0) => ({
  concurrency,
  agents: {
    ...(taskMs > 0 ? { explore: { delayMs: taskMs } } : {}),
    lead: {
      delegate: Array.from({ length: TASKS_PER_LEAD }, (_, k) => ({
        agent: 'explore',
        description: `part ${k}`,
        prompt: `part ${k} ${'x'.repeat(1_000)}`,
      })),
      output: 'lead read {{#results}}{{success}} {{/results}}',
    },
  },
});

export interface DelegationFigure {
  leads: number;
  concurrency: number;
  wallMs: number;
  executions: number;
  maxEvents: number;
  longestTaskMs: number;
  failedTasks: number;
  /**
   * Of those, the ones the server failed itself (FORCE_CLOSE_COMMAND): more
   * than 100 events (50 finished activities) arrived while one activation ran,
   * past the server's buffer (`history.maximumBufferedEventsBatch`).
   */
  forceClosed: number;
}

const FORCE_CLOSE = 17; // temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND

const at = (e: temporal.api.history.v1.IHistoryEvent) =>
  Number(e.eventTime!.seconds) * 1_000 + (e.eventTime!.nanos ?? 0) / 1e6;

export async function delegationRun(
  client: Client,
  taskQueue: string,
  leads: number,
  concurrency: number,
): Promise<DelegationFigure> {
  const specs = Array.from({ length: leads }, (_, i) => ({
    taskId: `lead-${i}`,
    agent: 'lead',
    prompt: `lead ${i}`,
  }));
  const start = performance.now();
  const handle = await client.workflow.start('parallelWorkflow', {
    taskQueue,
    workflowId: `bench-delegation-${leads}-${Date.now()}`,
    args: [{ specs, concurrency }],
  });
  await handle.result();
  const wallMs = performance.now() - start;
  const figure = {
    leads,
    concurrency,
    wallMs,
    executions: 0,
    maxEvents: 0,
    longestTaskMs: 0,
    failedTasks: 0,
    forceClosed: 0,
  };
  for (let runId: string | undefined = handle.firstExecutionRunId; runId;) {
    const events = await historyOf(client, handle.workflowId, runId);
    figure.executions += 1;
    figure.maxEvents = Math.max(figure.maxEvents, events.length);
    const started = new Map<string, number>();
    for (const e of events) {
      if (e.workflowTaskStartedEventAttributes) started.set(String(e.eventId), at(e));
      const ended = e.workflowTaskCompletedEventAttributes ?? e.workflowTaskFailedEventAttributes;
      if (ended)
        figure.longestTaskMs = Math.max(
          figure.longestTaskMs,
          at(e) - started.get(String(ended.startedEventId))!,
        );
      if (e.workflowTaskFailedEventAttributes || e.workflowTaskTimedOutEventAttributes)
        figure.failedTasks += 1;
      if (String(e.workflowTaskFailedEventAttributes?.cause) === String(FORCE_CLOSE)) figure.forceClosed += 1;
    }
    runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return figure;
}

/** An execution's events, read in small pages: a page of delegating steps' events can pass gRPC's 4 MB message limit. */
async function historyOf(
  client: Client,
  workflowId: string,
  runId: string,
): Promise<temporal.api.history.v1.IHistoryEvent[]> {
  const events: temporal.api.history.v1.IHistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.getWorkflowExecutionHistory({
      namespace: client.options.namespace,
      execution: { workflowId, runId },
      maximumPageSize: 20,
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return events;
}
