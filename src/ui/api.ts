/**
 * What `tao ui`'s page asks for and does, as plain functions of a client: each
 * read is a visibility list, a `progress` query, a describe or a history read,
 * and each action is the very client function a `tao` command calls, so a
 * decision or a change has the same effect whoever makes it.
 */
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';
import {
  WORKFLOW_TYPES,
  answerStep,
  approveStep,
  cancelStep,
  fetchRunProgress,
  pauseRun,
  pendingDecisions,
  rejectStep,
  resumeRun,
  runningSteps,
  sendMessage,
  setRunBudget,
  setRunConcurrency,
  type StepDetail,
  stepDetail,
  stepOutputHeads,
  type WaitingToolCall,
  waitingPrompt,
  waitingToolCall,
} from '../client';
import { completedResult } from '../client/run-history';
import { type RunTimeline, runTimeline } from '../client/timeline';
import { BudgetSchema, type RunSummary, RunSummarySchema, StepOutcomeSchema } from '../contracts';
import { type Progress, hasEnded } from '../workflows/lib/progress';
import { BATCH_TYPE, BatchReads } from './batch-summary';
import { Kept } from './kept';

const TYPES: readonly string[] = Object.values(WORKFLOW_TYPES);
const STATUSES = ['Running', 'Completed', 'Failed', 'Canceled', 'Terminated', 'TimedOut', 'ContinuedAsNew'];
export const DEFAULT_RUNS_PAGE_SIZE = 200;
const STATUS_PREFIX = 'WORKFLOW_EXECUTION_STATUS_';

export const RunsFilterSchema = z.object({
  status: z.enum(STATUSES as [string, ...string[]]).optional(),
  type: z.enum(TYPES as [string, ...string[]]).optional(),
  /** Temporal's own page token (base64url), handed back to visibility as it came. */
  page: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,4096}$/, 'page must be the token a runs list gave as next')
    .optional(),
});

/**
 * TAO's runs, newest first, a page at a time; filters come from fixed lists, so nothing a page sends
 * reaches the query text. Visibility's page token goes to the page as `next` and comes back as `page`:
 * no state here, and a page reads the same runs however long it is kept.
 */
export async function listRuns(client: Client, filter: z.infer<typeof RunsFilterSchema>, pageSize: number) {
  const types = filter.type ? [filter.type] : Object.values(WORKFLOW_TYPES);
  let query = `WorkflowType IN (${types.map((t) => `"${t}"`).join(', ')})`;
  if (filter.status) query += ` AND ExecutionStatus = "${filter.status}"`;
  const response = await client.workflowService.listWorkflowExecutions({
    namespace: client.options.namespace,
    query,
    pageSize,
    ...(filter.page ? { nextPageToken: Buffer.from(filter.page, 'base64url') } : {}),
  });
  const runs = (response.executions ?? []).map((run) => ({
    workflowId: run.execution?.workflowId ?? '',
    runId: run.execution?.runId ?? '',
    type: run.type?.name ?? '',
    status: temporal.api.enums.v1.WorkflowExecutionStatus[run.status ?? 0]!.slice(STATUS_PREFIX.length),
    startTime: isoTime(run.startTime)!,
    ...(run.closeTime ? { closeTime: isoTime(run.closeTime) } : {}),
  }));
  const next = response.nextPageToken?.length
    ? Buffer.from(response.nextPageToken).toString('base64url')
    : undefined;
  return { runs, ...(next ? { next } : {}), statuses: STATUSES, types: TYPES };
}

const isoTime = (ts: temporal.api.workflow.v1.IWorkflowExecutionInfo['startTime']) =>
  ts ? new Date(Number(ts.seconds ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString() : undefined;

/**
 * What a UI server keeps of closed runs, by run id: none of it can change once the run closed. A closed
 * run's progress makes a worker replay its whole history (for `tao dev`, on the UI server's own thread), and
 * its page refreshes every second; its timeline and its steps' output heads are reads of its history.
 */
export class ClosedRuns {
  readonly views = new Kept<Awaited<ReturnType<typeof readRunView>>>(20);
  /** What batch runs' counts were read from: their executions' starts, and histories no worker answered for. */
  readonly batches = new BatchReads();
  readonly timelines = new Kept<RunTimeline>(20);
  readonly costs = new Kept<RunCost>(5_000);
  readonly outputs = new Kept<{ outputs: { taskId: string; head: string }[] }>(20);
}

/** A run's page: what it is, its steps' progress, and what its running steps have output so far. */
export async function runView(client: Client, workflowId: string, closed: ClosedRuns) {
  const handle = client.workflow.getHandle(workflowId);
  const description = await handle.describe();
  const kept = closed.views.get(description.runId);
  if (kept) return kept;
  const view = await readRunView(client, workflowId, description, closed);
  // A closed batch's counts from its result stand without a worker's answer; a replay's progress adds nothing.
  if (view.status !== 'RUNNING' && (view.progress || view.batch?.counted === 'result')) {
    closed.views.set(description.runId, view);
  }
  return view;
}

async function readRunView(
  client: Client,
  workflowId: string,
  description: WorkflowExecutionDescription,
  closed: ClosedRuns,
) {
  const handle = client.workflow.getHandle(workflowId);
  const running = description.status.name === 'RUNNING';
  const asked = fetchRunProgress(handle);
  const [progress, live, batch] = await Promise.all([
    asked,
    running ? runningSteps(handle).catch(() => []) : [],
    description.type === BATCH_TYPE ? closed.batches.counts(client, description, asked) : undefined,
  ]);
  return {
    workflowId,
    runId: description.runId,
    namespace: client.options.namespace,
    type: description.type,
    status: description.status.name,
    taskQueue: description.taskQueue,
    startTime: description.startTime.toISOString(),
    ...(description.closeTime ? { closeTime: description.closeTime.toISOString() } : {}),
    // A batch's page lists its outcomes from the store: of its steps, only those in flight are sent.
    progress: progress && batch ? inFlightOnly(progress) : (progress ?? null),
    ...(batch ? { batch } : {}),
    running: live.map((step) => ({
      taskId: step.taskId,
      attempt: step.attempt,
      ...(step.output !== undefined ? { output: step.output } : {}),
      ...(step.lastHeartbeat ? { lastHeartbeat: step.lastHeartbeat.toISOString() } : {}),
    })),
  };
}

const inFlightOnly = (progress: Progress): Progress => ({
  ...progress,
  steps: progress.steps.filter((step) => !hasEnded(step.status)),
});

/**
 * A step's text from history; a step waiting to start that history has no
 * prompt for yet gets it from the run, and one waiting on a tool call the call.
 */
export async function stepView(
  client: Client,
  workflowId: string,
  taskId: string,
): Promise<StepDetail & { toolCall?: WaitingToolCall }> {
  const handle = client.workflow.getHandle(workflowId);
  const detail = await stepDetail(handle, taskId);
  const toolCall = detail && !detail.outcome ? await waitingToolCall(handle, taskId) : undefined;
  if (toolCall) return { ...detail!, toolCall };
  if (detail?.prompt !== undefined) return detail;
  const waiting = await waitingPrompt(handle, taskId);
  if (waiting !== undefined) return { ...(detail ?? { taskId }), prompt: waiting };
  if (!detail) throw new NotFound(`no step "${taskId}" in the history of ${workflowId}`);
  return detail;
}

/** How much of a finished step's output the run's table shows: one line, cut. */
export const OUTPUT_HEAD_CHARS = 120;

/** The start of each finished step's output, in history order (a loop's step once per round). */
export async function outputHeads(client: Client, workflowId: string, closed: ClosedRuns) {
  const { runId, status } = await client.workflow.getHandle(workflowId).describe();
  const kept = closed.outputs.get(runId);
  if (kept) return kept;
  const heads = {
    outputs: await stepOutputHeads(client.workflow.getHandle(workflowId, runId), OUTPUT_HEAD_CHARS),
  };
  if (status.name !== 'RUNNING') closed.outputs.set(runId, heads);
  return heads;
}

/** When each step ran, retried, waited and delegated (src/client/timeline.ts). */
export async function timelineView(
  client: Client,
  workflowId: string,
  closed: ClosedRuns,
): Promise<RunTimeline> {
  const handle = client.workflow.getHandle(workflowId);
  const { runId, status, type, startTime } = await handle.describe();
  // A batch's steps are its outcomes, paged from the store: its histories (every execution of a run of
  // 100,000 steps) are not read for a timeline, which the page hides when it has no steps.
  if (type === BATCH_TYPE) return { start: startTime.getTime(), now: Date.now(), steps: [] };
  const kept = closed.timelines.get(runId);
  if (kept) return { ...kept, now: Date.now() };
  const timeline = await runTimeline(client.workflow.getHandle(workflowId, runId));
  if (status.name !== 'RUNNING' && timeline.end !== undefined) {
    closed.timelines.set(runId, timeline);
  }
  return timeline;
}

/** What a run cost and spent in tokens: `costUsd` absent when nothing it ran told a price. */
export interface RunCost {
  costUsd?: number;
  inputTokens: number;
  outputTokens: number;
}

/**
 * A run's cost for the runs list. A running run: its `progress` (the budget's spent dollars when it has a
 * budget, else its steps' usage, steps served from a cache or an earlier run left out). A closed run: the
 * outcomes in its result, read from its close event alone; a run that closed without a result (failed,
 * cancelled, terminated) has no cost to show, nor one whose steps reported none.
 */
export async function runCost(
  client: Client,
  workflowId: string,
  closed: ClosedRuns,
): Promise<RunCost | { unknown: true }> {
  const handle = client.workflow.getHandle(workflowId);
  const description = await handle.describe();
  const { runId, status } = description;
  if (status.name === 'RUNNING' && description.type === BATCH_TYPE) {
    const { usage } = await closed.batches.counts(client, description, fetchRunProgress(handle, 1_500));
    return summaryCost(usage);
  }
  if (status.name === 'RUNNING') {
    const progress = await fetchRunProgress(handle, 1_500);
    if (!progress) return { unknown: true };
    const ran = progress.steps.filter((s) => s.status !== 'cached' && s.status !== 'reused');
    const priced = ran.filter((s) => s.usage?.costUsd !== undefined);
    const costUsd =
      progress.budget?.spent.costUsd ??
      (priced.length ? priced.reduce((sum, s) => sum + s.usage!.costUsd!, 0) : undefined);
    return {
      ...(costUsd !== undefined ? { costUsd } : {}),
      inputTokens: progress.usage.inputTokens,
      outputTokens: progress.usage.outputTokens,
    };
  }
  const kept = closed.costs.get(runId);
  if (kept) return kept;
  const result = await completedResult(client.workflow, { workflowId, runId });
  if (result === undefined) return { unknown: true };
  const cost = costOfOutcomes(result);
  if (cost.costUsd === undefined && cost.inputTokens === 0) return { unknown: true };
  closed.costs.set(runId, cost);
  return cost;
}

/** A batch's usage as a cost: its summary adds up dollars as 0 where no step told a price. */
const summaryCost = ({ inputTokens, outputTokens, costUsd }: RunSummary['usage']): RunCost => ({
  ...(costUsd > 0 ? { costUsd } : {}),
  inputTokens,
  outputTokens,
});

/** The usage of every step outcome in a run's result, whatever its kind's shape (lists, rounds, items); a batch's summary's. */
function costOfOutcomes(result: unknown): RunCost {
  const summary = RunSummarySchema.safeParse(result);
  if (summary.success) return summaryCost(summary.data.usage);
  const cost: RunCost = { inputTokens: 0, outputTokens: 0 };
  const seen = new Set<unknown>();
  const walk = (value: unknown) => {
    if (value === null || typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    if (Array.isArray(value)) return value.forEach(walk);
    const outcome = StepOutcomeSchema.safeParse(value);
    if (outcome.success) {
      const usage = outcome.data.usage;
      if (!usage) return;
      cost.inputTokens += usage.inputTokens;
      cost.outputTokens += usage.outputTokens;
      if (usage.costUsd !== undefined) cost.costUsd = (cost.costUsd ?? 0) + usage.costUsd;
      return;
    }
    Object.values(value).forEach(walk);
  };
  walk(result);
  return cost;
}

/** Every step waiting for a decision across running runs, with what is to be decided. */
export const inbox = (client: Client) => pendingDecisions(client, { withText: true });

export class NotFound extends Error {}

/** The store a page reads (transcripts, outcomes), or why there is none: `tao ui` without the store its workers use. */
export function storeOf<T>(store: T | undefined): T {
  if (!store) throw new NotFound('tao ui was started without the store the workers write to (--store)');
  return store;
}

const DecisionSchema = z
  .object({
    taskId: z.string().min(1),
    comment: z.string().optional(),
    output: z.string().optional(),
    /** A tool call's edited arguments, and "approve for this run". */
    input: z.record(z.unknown()).optional(),
    forRun: z.boolean().optional(),
  })
  .strict();

const MessageSchema = z.object({ taskId: z.string().min(1), text: z.string().min(1) }).strict();

/** The page's actions, each validated here and refused by the workflow as the CLI's would be. */
export const ACTIONS = {
  approve: (client: Client, id: string, body: unknown) =>
    approveStep(client.workflow.getHandle(id), DecisionSchema.parse(body)),
  reject: (client: Client, id: string, body: unknown) =>
    rejectStep(
      client.workflow.getHandle(id),
      DecisionSchema.pick({ taskId: true, comment: true }).parse(body),
    ),
  pause: (client: Client, id: string) => pauseRun(client.workflow.getHandle(id)),
  resume: (client: Client, id: string) => resumeRun(client.workflow.getHandle(id)),
  concurrency: (client: Client, id: string, body: unknown) =>
    setRunConcurrency(
      client.workflow.getHandle(id),
      z.object({ limit: z.number().int().min(1) }).parse(body).limit,
    ),
  budget: (client: Client, id: string, body: unknown) =>
    setRunBudget(client.workflow.getHandle(id), BudgetSchema.parse(body)),
  'cancel-step': (client: Client, id: string, body: unknown) =>
    cancelStep(client.workflow.getHandle(id), z.object({ taskId: z.string().min(1) }).parse(body).taskId),
  /** The run's `message` Update: its validator refuses an ended step, or an executor that cannot read messages. */
  message: (client: Client, id: string, body: unknown) => {
    const { taskId, text } = MessageSchema.parse(body);
    return sendMessage(client.workflow.getHandle(id), taskId, text);
  },
  /** The run's `answer` Update, to the question a step's agent asked. */
  answer: (client: Client, id: string, body: unknown) => {
    const { taskId, text } = MessageSchema.parse(body);
    return answerStep(client.workflow.getHandle(id), taskId, text);
  },
  cancel: async (client: Client, id: string) => {
    const handle = client.workflow.getHandle(id);
    const { status } = await handle.describe();
    // As `tao cancel`: the server accepts a cancel request for a closed workflow and ignores it.
    if (status.name !== 'RUNNING') throw new Error(`${id} is ${status.name}, not running; nothing to cancel`);
    await handle.cancel();
    return { cancelled: id };
  },
} satisfies Record<string, (client: Client, id: string, body: unknown) => Promise<unknown>>;
