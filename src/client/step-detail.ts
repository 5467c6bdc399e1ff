/**
 * One step's text as the run's history holds it: the prompt the step was
 * scheduled with and the outcome its latest attempt returned, decoded with the
 * client's own data converter (codec, claim check and encryption included).
 * The progress query carries statuses only; a person deciding on a step, or
 * reading what it said, needs the words. Reading history adds no events.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { optionalTsToDate } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { type AgentStepSpec, StepOutcomeSchema, type StepOutcome } from '../contracts';
import { type WaitingToolCall, waitingPromptQuery, waitingToolCallQuery } from '../workflows/lib/approvals';
import type { DecisionKind } from '../workflows/lib/progress';
import { askRun } from './fetch-progress';
import { STEP_ACTIVITY_TYPE } from '../activity-api';

const EventType = temporal.api.enums.v1.EventType;
type Payloads = temporal.api.common.v1.IPayload[] | null | undefined;

export interface StepDetail {
  taskId: string;
  prompt?: string;
  /** The latest attempt's outcome, once one returned. */
  outcome?: StepOutcome;
  /** The latest attempt's failure (a crash or timeout, not an unsuccessful outcome). */
  failure?: string;
  attempt?: number;
  scheduledAt?: Date;
  /** From the latest attempt's start to its end, or to now while it runs. */
  durationMs?: number;
  /** The history event that scheduled the step: the Temporal Web UI shows its events from there. */
  eventId?: number;
}

interface Scheduled {
  eventId: number;
  spec: AgentStepSpec;
  at?: Date;
  startedAt?: Date;
  attempt?: number;
}

/**
 * The step `taskId` of this run as its history tells it; a step that has not
 * been scheduled yet (waiting to start, pending) shows the prompt of its spec
 * in the run's input, when the input lists specs (parallel and resumable runs,
 * a loop's first round). `undefined` when the history names no such step.
 */
export async function stepDetail(handle: WorkflowHandle, taskId: string): Promise<StepDetail | undefined> {
  const converter = handle.client.options.loadedDataConverter;
  const decode = (payloads: Payloads, index = 0) =>
    payloads?.length ? decodeFromPayloadsAtIndex<unknown>(converter, index, payloads) : undefined;
  const history = await handle.fetchHistory();
  let latest: Scheduled | undefined;
  let detail: StepDetail | undefined;
  let startInput: Payloads;
  for (const event of history.events ?? []) {
    const eventId = Number(event.eventId);
    switch (event.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        startInput = event.workflowExecutionStartedEventAttributes?.input?.payloads;
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
        const attrs = event.activityTaskScheduledEventAttributes;
        if (attrs?.activityType?.name !== STEP_ACTIVITY_TYPE) break;
        const spec = (await decode(attrs.input?.payloads)) as AgentStepSpec | undefined;
        if (spec?.taskId !== taskId) break;
        latest = { eventId, spec, ...(event.eventTime ? { at: optionalTsToDate(event.eventTime)! } : {}) };
        detail = { taskId, prompt: spec.prompt, eventId, ...(latest.at ? { scheduledAt: latest.at } : {}) };
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const attrs = event.activityTaskStartedEventAttributes;
        if (!latest || Number(attrs?.scheduledEventId) !== latest.eventId) break;
        latest.startedAt = optionalTsToDate(event.eventTime);
        latest.attempt = attrs?.attempt ?? 1;
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
        const attrs = event.activityTaskCompletedEventAttributes;
        if (!latest || !detail || Number(attrs?.scheduledEventId) !== latest.eventId) break;
        // The activity returns `{ outcome, attempt }`, or `{ delegation }` from a step that asked for child steps.
        const result = (await decode(attrs?.result?.payloads)) as { outcome?: unknown } | undefined;
        const outcome = StepOutcomeSchema.safeParse(result?.outcome);
        if (outcome.success) detail.outcome = outcome.data;
        ended(detail, latest, event.eventTime);
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: {
        const attrs = event.activityTaskFailedEventAttributes ?? event.activityTaskTimedOutEventAttributes;
        if (!latest || !detail || Number(attrs?.scheduledEventId) !== latest.eventId) break;
        detail.failure = attrs?.failure?.message ?? 'the step failed';
        ended(detail, latest, event.eventTime);
        break;
      }
    }
  }
  // A retried step's start is recorded only when it ends: while it runs, it has run since it was scheduled.
  const since = latest?.startedAt ?? latest?.at;
  if (detail && detail.durationMs === undefined && since) detail.durationMs = Date.now() - since.getTime();
  return detail ?? specFromInput(await decode(startInput), taskId);
}

/**
 * The start of each finished step's output, in the order the run's history
 * completed them (a loop's step once per round): its first line, at most
 * `maxChars`, `…` when cut. One history read, decoding results only.
 */
export async function stepOutputHeads(
  handle: WorkflowHandle,
  maxChars: number,
): Promise<{ taskId: string; head: string }[]> {
  const converter = handle.client.options.loadedDataConverter;
  const heads: { taskId: string; head: string }[] = [];
  for (const event of (await handle.fetchHistory()).events ?? []) {
    const payloads = event.activityTaskCompletedEventAttributes?.result?.payloads;
    if (!payloads?.length) continue;
    const result = await decodeFromPayloadsAtIndex<{ outcome?: unknown }>(converter, 0, payloads);
    const outcome = StepOutcomeSchema.safeParse(result?.outcome);
    if (!outcome.success) continue;
    const { line, cut } = textHead(outcome.data.output, maxChars);
    heads.push({ taskId: outcome.data.taskId, head: cut ? `${line}…` : line });
  }
  return heads;
}

/** `text`'s first line, at most `maxChars` of it; `cut` when that is not all of it. */
export function textHead(text: string, maxChars: number): { line: string; cut: boolean } {
  const trimmed = text.trim();
  const first = trimmed.split('\n')[0] ?? '';
  return { line: first.slice(0, maxChars), cut: first.length > maxChars || trimmed.includes('\n') };
}

function ended(detail: StepDetail, latest: Scheduled, at: Parameters<typeof optionalTsToDate>[0]): void {
  const end = optionalTsToDate(at);
  if (latest.attempt !== undefined) detail.attempt = latest.attempt;
  if (end && latest.startedAt) detail.durationMs = end.getTime() - latest.startedAt.getTime();
}

/** A not yet scheduled step's prompt, from the run's `specs` or a loop's `initial` round. */
function specFromInput(input: unknown, taskId: string): StepDetail | undefined {
  const record = (input ?? {}) as { specs?: unknown; initial?: unknown };
  const specs = Array.isArray(record.specs)
    ? record.specs
    : Array.isArray(record.initial)
      ? record.initial
      : [];
  const spec = (specs as Partial<AgentStepSpec>[]).find((s) => s?.taskId === taskId);
  return spec ? { taskId, ...(typeof spec.prompt === 'string' ? { prompt: spec.prompt } : {}) } : undefined;
}

/**
 * What a person decides on for a waiting step: its output after it ran, else
 * (before it starts, or on a spent budget) its prompt, which the run itself
 * answers while the step waits (a pipeline's later stages have theirs rendered
 * only in the workflow). From history when the run no longer answers.
 */
export async function decisionText(
  handle: WorkflowHandle,
  taskId: string,
  decision: DecisionKind,
): Promise<string | undefined> {
  if (decision !== 'after') {
    const waiting = await waitingPrompt(handle, taskId);
    if (waiting !== undefined) return waiting;
  }
  const detail = await stepDetail(handle, taskId).catch(() => undefined);
  return decision === 'after' ? detail?.outcome?.output : detail?.prompt;
}

/**
 * The prompt of the step `taskId` while it waits for a decision, as the run
 * answers it within `timeoutMs`; undefined otherwise. Unbounded, a run whose
 * worker went away between the inbox's progress read and this one held the
 * whole inbox until the query timed out.
 */
export async function waitingPrompt(
  handle: WorkflowHandle,
  taskId: string,
  timeoutMs = 3_000,
): Promise<string | undefined> {
  return (await askRun(handle, timeoutMs, () => handle.query(waitingPromptQuery, taskId))) ?? undefined;
}

/** The tool call the step `taskId` waits on a decision for, as the run answers it within `timeoutMs`. */
export async function waitingToolCall(
  handle: WorkflowHandle,
  taskId: string,
  timeoutMs = 3_000,
): Promise<WaitingToolCall | undefined> {
  return (await askRun(handle, timeoutMs, () => handle.query(waitingToolCallQuery, taskId))) ?? undefined;
}
