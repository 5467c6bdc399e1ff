/**
 * Delegation at scale: a parallel run of leads that each hand 16 tasks to
 * other agents (the script executor's `delegate` rule, no model), as the
 * run-context issue measured before (50 leads 8 s, 100 leads 59 s, 200 not
 * done in 300 s, 1,000 stalled). For each size: the wall time, how many
 * executions the run took (it continues as new as its history fills, and
 * splits into child partitions when its concurrency asks for it), the
 * largest history, the longest workflow task (an activation: its started to
 * completed events) and the workflow tasks that failed or timed out.
 */
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { everyExecution, peakActivitiesInFlight } from '../../test/support/history';

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
  /** The most activities one execution had in flight at once (the cap: MAX_ACTIVITIES_IN_FLIGHT). */
  peakInFlight: number;
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
    peakInFlight: 0,
  };
  for (const events of await everyExecution(client, handle.workflowId, handle.firstExecutionRunId)) {
    figure.executions += 1;
    figure.maxEvents = Math.max(figure.maxEvents, events.length);
    figure.peakInFlight = Math.max(figure.peakInFlight, peakActivitiesInFlight(events));
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
  }
  return figure;
}
