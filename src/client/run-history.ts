/**
 * What a closed run did, read from its event history (every execution of it,
 * when it continued as new, and every child run it was split into): the input it started with, and each step it ran
 * with the spec it ran and the outcome it gave. The history is the record: it
 * holds a failed or cancelled run's finished steps as well as a succeeded
 * run's, and reading it changes nothing. Payloads decode with the client's
 * own data converter, so encrypted or offloaded ones read as written.
 */
import type { Client, WorkflowClient } from '@temporalio/client';
import type { LoadedDataConverter } from '@temporalio/common';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import { STEP_ACTIVITY_TYPE } from '../activity-api';
import { InputError } from '../config/data-file';
import { AgentStepSpecSchema, type Reuse, StepOutcomeSchema } from '../contracts';
import { specDigest } from '../workflows/lib/spec-digest';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
export type RunStep = Reuse['steps'][number];

export interface ClosedRun {
  workflowId: string;
  workflowType: string;
  taskQueue: string;
  /** The first execution's input, as the run was started. */
  input: unknown;
  /** Steps the run ran itself (top-level, succeeded), oldest first, with what an earlier run lent it. */
  steps: RunStep[];
}

/** The start event of one execution (its input, the run it continued from), in one read of one event. */
export async function startedEvent(
  client: WorkflowClient,
  execution: { workflowId: string; runId: string },
): Promise<temporal.api.history.v1.IWorkflowExecutionStartedEventAttributes | undefined> {
  const { history } = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution,
    maximumPageSize: 1,
  });
  return history?.events?.[0]?.workflowExecutionStartedEventAttributes ?? undefined;
}

/**
 * What a completed execution returned, decoded, from its close event alone (one event read); `undefined`
 * when it closed without a result (failed, cancelled, terminated, continued as new).
 */
export async function completedResult(
  client: WorkflowClient,
  execution: { workflowId: string; runId: string },
): Promise<unknown> {
  const { history } = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution,
    historyEventFilterType:
      temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
  });
  const payloads = history?.events?.[0]?.workflowExecutionCompletedEventAttributes?.result?.payloads;
  if (!payloads?.length) return undefined;
  return decodeFromPayloadsAtIndex<unknown>(client.options.loadedDataConverter, 0, payloads);
}

/**
 * A run that has closed, as it was started: from the start events of its
 * last and first executions, not its histories. A running one is refused,
 * since its steps are not all known yet.
 */
export async function closedRunStart(client: Client, workflowId: string): Promise<Omit<ClosedRun, 'steps'>> {
  const { status, type, taskQueue, runId } = await client.workflow.getHandle(workflowId).describe();
  if (status.name === 'RUNNING') {
    throw new InputError(`${workflowId} is still running; wait for it or cancel it, then rerun it`);
  }
  const last = await startedEvent(client.workflow, { workflowId, runId });
  const firstRunId = last?.firstExecutionRunId;
  const first =
    firstRunId && firstRunId !== runId
      ? await startedEvent(client.workflow, { workflowId, runId: firstRunId })
      : last;
  const converter = client.options.loadedDataConverter;
  const input = await decodeFromPayloadsAtIndex<unknown>(converter, 0, first?.input?.payloads);
  return { workflowId, workflowType: type, taskQueue, input };
}

/** The closed run {@link closedRunStart} read, with the steps it ran, from its histories. */
export async function readClosedRun(client: Client, start: Omit<ClosedRun, 'steps'>): Promise<ClosedRun> {
  const converter = client.options.loadedDataConverter;
  const steps = await stepsOfRun(client, await executionsOf(client, start.workflowId), converter);
  return { ...start, steps: withLent(start.input, steps) };
}

/** The histories of every execution of a workflow id, oldest first (it may have continued as new). */
async function executionsOf(client: Client, workflowId: string): Promise<HistoryEvent[][]> {
  const executions: HistoryEvent[][] = [];
  for (let runId: string | undefined; ;) {
    const events = (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
    executions.unshift(events);
    runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? undefined;
    if (!runId) return executions;
  }
}

/** A run's steps, and those of the child runs it split into (a run too big for one history). */
async function stepsOfRun(
  client: Client,
  executions: HistoryEvent[][],
  converter: LoadedDataConverter,
): Promise<RunStep[]> {
  const steps: RunStep[] = [];
  for (const events of executions) {
    steps.push(...(await stepsOf(events, converter)));
    for (const event of events) {
      const child = event.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId;
      if (child) steps.push(...(await stepsOfRun(client, await executionsOf(client, child), converter)));
    }
  }
  return steps;
}

/** Each completed top-level step activity whose outcome succeeded, in completion order. */
async function stepsOf(events: HistoryEvent[], converter: LoadedDataConverter): Promise<RunStep[]> {
  const scheduled = new Map<string, HistoryEvent>();
  const steps: RunStep[] = [];
  for (const event of events) {
    const asked = event.activityTaskScheduledEventAttributes;
    if (asked?.activityType?.name === STEP_ACTIVITY_TYPE) scheduled.set(String(event.eventId), event);
    const done = event.activityTaskCompletedEventAttributes;
    const request = done && scheduled.get(String(done.scheduledEventId));
    if (!done || !request) continue;
    const payloads = request.activityTaskScheduledEventAttributes!.input?.payloads;
    const [spec, allowance, run] = await Promise.all([
      decodeFromPayloadsAtIndex<unknown>(converter, 0, payloads),
      decodeFromPayloadsAtIndex<{ delegation?: { depth?: number } } | undefined>(converter, 1, payloads),
      decodeFromPayloadsAtIndex<{ outcome?: unknown }>(converter, 0, done.result?.payloads),
    ]);
    // A delegated task is its parent's business: the parent's outcome already holds what it gave.
    if ((allowance?.delegation?.depth ?? 0) > 0) continue;
    const parsedSpec = AgentStepSpecSchema.safeParse(spec);
    const outcome = StepOutcomeSchema.safeParse(run?.outcome);
    if (!parsedSpec.success || !outcome.success || !outcome.data.success) continue;
    steps.push({
      taskId: parsedSpec.data.taskId,
      specDigest: specDigest(parsedSpec.data),
      outcome: outcome.data,
    });
  }
  return steps;
}

/**
 * A rerun's reused steps ran no activity, so its history lacks them: they
 * come from its own input, each still naming the run that ran it, unless the
 * rerun ran that step itself.
 */
function withLent(input: unknown, own: RunStep[]): RunStep[] {
  const reuse = (input as { reuse?: Reuse } | undefined)?.reuse;
  if (!reuse) return own;
  const ran = new Set(own.map((step) => `${step.specDigest} ${step.taskId}`));
  const lent = reuse.steps
    .filter((step) => !ran.has(`${step.specDigest} ${step.taskId}`))
    .map((step) => ({ ...step, workflowId: step.workflowId ?? reuse.fromWorkflowId }));
  return [...lent, ...own];
}
