/**
 * A run's timeline: when each step ran, retried, waited for a person and
 * waited for the tasks it delegated, read from the run's history (one read,
 * the same after the run closed) and, while it runs, its pending activities
 * (one describe) and its progress (one query, for steps that wait to start).
 *
 * What history tells, per step activity: when it was scheduled, when its last
 * attempt started and which attempt that was (recorded when it closes; the
 * describe has it while it runs), when and how it closed. So a retried step
 * shows its earlier attempts and their backoff as one span, up to its last
 * attempt's start. A decision is an Update (`approve`, `reject`, `answer`)
 * whose acceptance history records with its task id: a wait after a step ran
 * or asked a question starts when its activity closed and ends there; a wait
 * before a step starts is drawn from the run's start (history records no
 * event when a step starts waiting without a timeout).
 */
import type { WorkflowHandle } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { optionalTsToDate } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { STEP_ACTIVITY_TYPE } from '../activity-api';
import { fetchProgress } from './fetch-progress';
import { startedEvent } from './run-history';

const EventType = temporal.api.enums.v1.EventType;
type Timestamp = Parameters<typeof optionalTsToDate>[0];

/**
 * `queued`: scheduled, its first attempt not started (a busy worker); `retrying`: its earlier attempts and
 * their backoff; `running`: its last (or current) attempt; `waiting`: for a person's decision or answer;
 * `delegated`: for the tasks it delegated. Times are epoch milliseconds; no `end` while it goes on.
 */
export interface TimelineSpan {
  kind: 'queued' | 'retrying' | 'running' | 'waiting' | 'delegated';
  start: number;
  end?: number;
  /** `running`: its attempt; `retrying`: how many attempts it holds. */
  attempt?: number;
  /** `running`: how the attempt ended, when it did not succeed (`failed`, `timed out`, `cancelled`, `unsuccessful`). */
  failed?: string;
  /** `waiting`: what for (`approval`, `answer`, `decision`). */
  for?: string;
}

export interface TimelineStep {
  taskId: string;
  /** A delegated task's parent step (`<parent>/task-<n>-<k>`), and how deep it stands. */
  parentTaskId?: string;
  depth: number;
  /** Attempts of all its activities, added up (a delegating step runs an activity before and after its tasks). */
  attempts: number;
  /** Of those, retries: attempts after an activity's first. */
  retries: number;
  spans: TimelineSpan[];
}

export interface RunTimeline {
  start: number;
  end?: number;
  /** The server's clock when this was read: open spans end here. */
  now: number;
  steps: TimelineStep[];
}

/** A delegated task's id names its parent: `<parent>/task-<call>-<index>` (workflows/lib/delegation.ts). */
const DELEGATED = /^(.*)\/task-\d+-\d+$/;
const DECISIONS: Record<string, string> = { approve: 'approval', reject: 'approval', answer: 'answer' };

interface Activity {
  step: TimelineStep;
  activityId: string;
  /** Scheduled in the run's latest execution, whose pending activities the describe tells. */
  latest: boolean;
  scheduled: number;
  started?: number;
  attempt?: number;
  closed?: number;
  failed?: string;
}

const ms = (ts: Timestamp) => optionalTsToDate(ts)?.getTime() ?? 0;

export async function runTimeline(handle: WorkflowHandle): Promise<RunTimeline> {
  const converter = handle.client.options.loadedDataConverter;
  const decodeFirst = (payloads: temporal.api.common.v1.IPayload[] | null | undefined) =>
    payloads?.length ? decodeFromPayloadsAtIndex<unknown>(converter, 0, payloads) : undefined;
  const description = await handle.describe();
  const histories = await chainHistories(handle, description.runId);
  const steps = new Map<string, TimelineStep>();
  const stepOf = (taskId: string) => {
    let step = steps.get(taskId);
    if (!step) {
      step = { taskId, depth: 0, attempts: 0, retries: 0, spans: [] };
      steps.set(taskId, step);
    }
    return step;
  };
  // Each execution's activities, by the event that scheduled them (event ids start again in each).
  const activities: Activity[] = [];
  const decisions: { taskId: string; at: number; for: string }[] = [];
  let start: number | undefined;
  let end: number | undefined;
  for (const history of histories) {
    const scheduled = new Map<number, Activity>();
    // Only the last execution's close ends the run: the others continued as new.
    end = undefined;
    for (const event of history.events ?? []) {
      const at = ms(event.eventTime);
      switch (event.eventType) {
        case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
          start ??= at;
          break;
        case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
          const attrs = event.activityTaskScheduledEventAttributes;
          if (attrs?.activityType?.name !== STEP_ACTIVITY_TYPE) break;
          const spec = (await decodeFirst(attrs.input?.payloads)) as { taskId?: unknown } | undefined;
          if (typeof spec?.taskId !== 'string') break;
          const activity = {
            step: stepOf(spec.taskId),
            activityId: attrs.activityId ?? '',
            scheduled: at,
            latest: history === histories.at(-1),
          };
          scheduled.set(Number(event.eventId), activity);
          activities.push(activity);
          break;
        }
        case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
          const attrs = event.activityTaskStartedEventAttributes;
          const activity = scheduled.get(Number(attrs?.scheduledEventId));
          if (activity) Object.assign(activity, { started: at, attempt: attrs?.attempt ?? 1 });
          break;
        }
        case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
        case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
        case EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: {
          const attrs =
            event.activityTaskCompletedEventAttributes ??
            event.activityTaskFailedEventAttributes ??
            event.activityTaskTimedOutEventAttributes ??
            event.activityTaskCanceledEventAttributes;
          const activity = scheduled.get(Number(attrs?.scheduledEventId));
          if (!activity) break;
          activity.closed = at;
          if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED) activity.failed = 'failed';
          if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT) activity.failed = 'timed out';
          if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED) activity.failed = 'cancelled';
          if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) {
            const result = (await decodeFirst(
              event.activityTaskCompletedEventAttributes?.result?.payloads,
            )) as { outcome?: { success?: boolean } } | undefined;
            if (result?.outcome?.success === false) activity.failed = 'unsuccessful';
          }
          break;
        }
        case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: {
          const input = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
          const kind = DECISIONS[input?.name ?? ''];
          if (!kind) break;
          const decision = (await Promise.resolve(decodeFirst(input?.args?.payloads)).catch(
            () => undefined,
          )) as { taskId?: unknown } | undefined;
          if (typeof decision?.taskId === 'string')
            decisions.push({ taskId: decision.taskId, at, for: kind });
          break;
        }
        case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
        case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
        case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
        case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
          end = at;
          break;
      }
    }
  }
  start ??= description.startTime.getTime();
  const now = Date.now();
  const open = description.status.name === 'RUNNING';
  // A running attempt's start and number are in the describe, not yet in history.
  const pending = new Map(
    (open ? (description.raw.pendingActivities ?? []) : []).map((p) => [p.activityId ?? '', p] as const),
  );
  for (const activity of activities) {
    // Activity ids start again in each execution: only the latest's may be pending.
    const live =
      activity.closed === undefined && activity.latest ? pending.get(activity.activityId) : undefined;
    if (live) {
      activity.attempt = live.attempt ?? 1;
      if (live.lastStartedTime) activity.started = ms(live.lastStartedTime);
    }
    addActivitySpans(activity, open || activity.closed !== undefined);
  }
  // Waits after an activity closed (its output waits to count, its agent asked) end at the decision.
  for (const decision of decisions) {
    const step = steps.get(decision.taskId);
    const last = step?.spans.filter((s) => s.end !== undefined && s.end <= decision.at).pop();
    if (step && last)
      step.spans.push({ kind: 'waiting', for: decision.for, start: last.end!, end: decision.at });
    else stepOf(decision.taskId).spans.push({ kind: 'waiting', for: decision.for, start, end: decision.at });
  }
  if (open) await addOpenWaits(handle, steps, stepOf, start);
  const parents = new Set([...steps.keys()].map((id) => DELEGATED.exec(id)?.[1]));
  for (const step of steps.values()) {
    step.spans.sort((a, b) => a.start - b.start);
    if (parents.has(step.taskId)) addDelegatedGaps(step);
  }
  return { start, ...(end !== undefined ? { end } : {}), now, steps: treeOrder([...steps.values()]) };
}

/**
 * A run continued as new is a chain of executions: their histories, the first first (at most MAX_CHAIN).
 * Each execution's first event names the one before: those are asked for one by one (an event each), then
 * the whole histories together.
 */
const MAX_CHAIN = 100;

async function chainHistories(handle: WorkflowHandle, runId: string) {
  const runIds: string[] = [];
  for (let id: string | null | undefined = runId; id && runIds.length < MAX_CHAIN;) {
    runIds.unshift(id);
    id = (await startedEvent(handle.client, { workflowId: handle.workflowId, runId: id }))
      ?.continuedExecutionRunId;
  }
  return Promise.all(runIds.map((id) => handle.client.getHandle(handle.workflowId, id).fetchHistory()));
}

/** One activity's spans: queued or retrying until its last attempt started, then that attempt. */
function addActivitySpans(activity: Activity, known: boolean): void {
  const { step, scheduled, started, attempt = 1, closed } = activity;
  step.attempts += attempt;
  step.retries += attempt - 1;
  const runFrom = started ?? (closed !== undefined ? scheduled : undefined);
  if (attempt > 1 || runFrom === undefined || runFrom > scheduled) {
    step.spans.push({
      kind: attempt > 1 ? 'retrying' : 'queued',
      start: scheduled,
      ...(attempt > 1 ? { attempt: attempt - 1 } : {}),
      ...(runFrom !== undefined ? { end: runFrom } : known ? {} : { end: scheduled }),
    });
  }
  if (runFrom === undefined) return;
  step.spans.push({
    kind: 'running',
    start: runFrom,
    attempt,
    ...(closed !== undefined ? { end: closed } : {}),
    ...(activity.failed ? { failed: activity.failed } : {}),
  });
}

/** Steps the run says wait now: from their last span's end (or the run's start) on. */
async function addOpenWaits(
  handle: WorkflowHandle,
  steps: Map<string, TimelineStep>,
  stepOf: (taskId: string) => TimelineStep,
  start: number,
): Promise<void> {
  const progress = await fetchProgress(handle);
  for (const entry of progress?.steps ?? []) {
    if (entry.taskId === undefined || entry.status !== 'waiting') continue;
    const step = steps.get(entry.taskId) ?? stepOf(entry.taskId);
    const last = step.spans.reduce((latest, s) => Math.max(latest, s.end ?? Infinity), start);
    if (last === Infinity) continue;
    const kind =
      entry.decision === 'question' ? 'answer' : entry.decision === 'budget' ? 'budget' : 'approval';
    step.spans.push({ kind: 'waiting', for: kind, start: last });
  }
}

/** Between a delegating step's activities, while its tasks ran: `delegated`. */
function addDelegatedGaps(step: TimelineStep): void {
  const gaps: TimelineSpan[] = [];
  for (let i = 1; i < step.spans.length; i++) {
    const before = step.spans[i - 1]!;
    const after = step.spans[i]!;
    if (before.end === undefined || after.start <= before.end) continue;
    if (before.kind === 'waiting' || after.kind === 'waiting') continue;
    gaps.push({ kind: 'delegated', start: before.end, end: after.start });
  }
  step.spans.push(...gaps);
  step.spans.sort((a, b) => a.start - b.start);
}

/** Parents first, each followed by the tasks it delegated, with their depth. */
function treeOrder(all: TimelineStep[]): TimelineStep[] {
  const byId = new Map(all.map((s) => [s.taskId, s]));
  const children = new Map<string, TimelineStep[]>();
  const roots: TimelineStep[] = [];
  for (const step of all) {
    const parent = DELEGATED.exec(step.taskId)?.[1];
    if (parent !== undefined && byId.has(parent)) {
      step.parentTaskId = parent;
      const siblings = children.get(parent) ?? [];
      siblings.push(step);
      children.set(parent, siblings);
    } else roots.push(step);
  }
  const out: TimelineStep[] = [];
  const walk = (step: TimelineStep, depth: number) => {
    step.depth = depth;
    out.push(step);
    for (const child of children.get(step.taskId) ?? []) walk(child, depth + 1);
  };
  for (const root of roots) walk(root, 0);
  return out;
}
