/**
 * A batch run's counts for its page (issue #33). A batch keeps no list of its
 * steps: an execution holds a window of them, and each settled step's outcome
 * is in the outcome store. So its page shows the run's summary: its result
 * once it completed; before that (or when it failed or was cancelled, without
 * one), what it settled so far: what the earlier executions carried over
 * (the current execution's start event, in history) plus what this
 * execution's steps settled, from its `progress` (which the page asks for
 * anyway), or from its own history when no worker answers. None of these
 * reads grows with the run: an execution's history is capped.
 */
import type {
  Client,
  WorkflowClient,
  WorkflowExecutionDescription,
  WorkflowHandle,
} from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { completedResult, startedEvent } from '../client/run-history';
import { sourceName } from '../client/spec-file';
import { STEP_ACTIVITY_TYPE } from '../activity-api';
import { ItemSourceSchema, type RunSummary, RunSummarySchema, StepOutcomeSchema } from '../contracts';
import type { Progress } from '../workflows/lib/progress';
import { Kept } from './kept';

export const BATCH_TYPE = 'batchWorkflow';

/** What the page shows of a summary: its failed steps it reads from the store instead (the failed filter). */
type Counts = Pick<RunSummary, 'total' | 'succeeded' | 'failed' | 'usage'>;

const NOTHING_SETTLED: Counts = {
  total: 0,
  succeeded: 0,
  failed: 0,
  usage: { inputTokens: 0, outputTokens: 0, costUsd: 0 },
};

export interface BatchView extends Counts {
  /** Where this execution's counts come from: the run's `result`; else its `progress`; else (no worker answered) its `history`. */
  counted: 'result' | 'progress' | 'history';
  /** Steps this execution started that have not settled; absent once the run has its result. */
  inFlight?: number;
  /** Where the run reads its steps, in a few words. */
  source?: string;
}

/** What one execution's start says: the summary earlier executions carried (zeros for the first) and the source. */
interface ExecutionStart {
  carried: RunSummary | undefined;
  source?: string;
}

/** Reads an execution's start event: one event, which never changes (callers keep it by run id). */
async function executionStart(
  client: WorkflowClient,
  execution: { workflowId: string; runId: string },
): Promise<ExecutionStart> {
  const payloads = (await startedEvent(client, execution))?.input?.payloads;
  const input = payloads?.length
    ? await decodeFromPayloadsAtIndex<{ source?: unknown; carried?: { summary?: unknown } }>(
        client.options.loadedDataConverter,
        0,
        payloads,
      )
    : undefined;
  const carried = RunSummarySchema.safeParse(input?.carried?.summary);
  const source = ItemSourceSchema.safeParse(input?.source);
  return {
    carried: carried.success ? carried.data : undefined,
    ...(source.success ? { source: sourceName(source.data) } : {}),
  };
}

/** The run's own summary, when its execution completed with one. */
async function batchResult(
  client: WorkflowClient,
  execution: { workflowId: string; runId: string },
): Promise<RunSummary | undefined> {
  const summary = RunSummarySchema.safeParse(await completedResult(client, execution));
  return summary.success ? summary.data : undefined;
}

/** A summary's counts and usage, as the page shows them. */
function batchView(summary: Counts, counted: BatchView['counted'], source?: string): BatchView {
  const { total, succeeded, failed, usage } = summary;
  return { total, succeeded, failed, usage: { ...usage }, counted, ...(source ? { source } : {}) };
}

/** What one execution settled, and how many of its steps are in flight. */
type ExecutionCounts = Counts & { inFlight: number };

/**
 * This execution's steps as its progress counts them, as the workflow's own
 * summary will (a step served from the cache or an earlier run succeeded; its
 * usage counts).
 */
function progressCounts(progress: Progress): ExecutionCounts {
  const { totals } = progress;
  const succeeded = totals.succeeded + totals.cached + totals.reused;
  const failed = totals.failed + totals.skipped;
  return {
    total: succeeded + failed,
    succeeded,
    failed,
    usage: {
      inputTokens: progress.usage.inputTokens,
      outputTokens: progress.usage.outputTokens,
      costUsd: progress.steps.reduce((sum, step) => sum + (step.usage?.costUsd ?? 0), 0),
    },
    inFlight: totals.pending + totals.waiting + totals.running,
  };
}

/**
 * This execution's steps as its history tells them, for when no worker
 * answers its progress: each top-level step activity that completed with an
 * outcome (its success and usage) or failed, timed out or was cancelled for
 * good; one scheduled and not closed is in flight. Steps the workflow settled
 * without an activity (refused, served from the step cache) are not in it.
 * One read of the execution's history (at most about 18,000 events, where it
 * continues as new), decoding the step activities' results and allowances.
 */
async function historyCounts(handle: WorkflowHandle): Promise<ExecutionCounts> {
  const converter = handle.client.options.loadedDataConverter;
  const counts: ExecutionCounts = { ...NOTHING_SETTLED, usage: { ...NOTHING_SETTLED.usage }, inFlight: 0 };
  const steps = new Set<string>();
  for (const event of (await handle.fetchHistory()).events ?? []) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name === STEP_ACTIVITY_TYPE) {
      const allowance = await decodeFromPayloadsAtIndex<{ delegation?: { depth?: number } } | undefined>(
        converter,
        1,
        scheduled.input?.payloads,
      );
      // A delegated task is its parent's business: the parent's outcome holds what it gave.
      if ((allowance?.delegation?.depth ?? 0) === 0) steps.add(String(event.eventId));
      continue;
    }
    const completed = event.activityTaskCompletedEventAttributes;
    const failed =
      event.activityTaskFailedEventAttributes ??
      event.activityTaskTimedOutEventAttributes ??
      event.activityTaskCanceledEventAttributes;
    const step = String((completed ?? failed)?.scheduledEventId ?? '');
    if (!steps.delete(step)) continue;
    if (failed) {
      counts.failed += 1;
      continue;
    }
    const result = await decodeFromPayloadsAtIndex<{ outcome?: unknown }>(
      converter,
      0,
      completed!.result?.payloads,
    );
    const outcome = StepOutcomeSchema.safeParse(result?.outcome);
    // A delegating step's attempt ends asking for its tasks: it runs again, and settles then.
    if (!outcome.success) continue;
    counts[outcome.data.success ? 'succeeded' : 'failed'] += 1;
    const { usage } = outcome.data;
    counts.usage.inputTokens += usage?.inputTokens ?? 0;
    counts.usage.outputTokens += usage?.outputTokens ?? 0;
    counts.usage.costUsd += usage?.costUsd ?? 0;
  }
  counts.total = counts.succeeded + counts.failed;
  counts.inFlight = steps.size;
  return counts;
}

/** What the run settled so far: what earlier executions carried plus what this one settled. */
function settledSoFar(
  start: ExecutionStart,
  current: ExecutionCounts,
  counted: 'progress' | 'history',
): BatchView {
  const carried = start.carried ?? NOTHING_SETTLED;
  const sum = (key: 'total' | 'succeeded' | 'failed') => carried[key] + current[key];
  const usage = (key: keyof Counts['usage']) => carried.usage[key] + current.usage[key];
  return {
    ...batchView(
      {
        total: sum('total'),
        succeeded: sum('succeeded'),
        failed: sum('failed'),
        usage: {
          inputTokens: usage('inputTokens'),
          outputTokens: usage('outputTokens'),
          costUsd: usage('costUsd'),
        },
      },
      counted,
      start.source,
    ),
    inFlight: current.inFlight,
  };
}

/** How often a running batch's history is read again for its counts while no worker answers. */
const HISTORY_MS = 5_000;

/**
 * A UI server's reads of batch runs' counts, and what it keeps of them: an
 * execution's start (what earlier executions carried over), which never
 * changes, and the counts read from an execution's history when no worker
 * answered (a closed execution's for good, a running one's for 5 s).
 */
export class BatchReads {
  private readonly starts = new Kept<ExecutionStart>(20);
  private readonly histories = new Kept<{ at: number; counts: ExecutionCounts }>(20);

  /** The run's counts: its own summary once it completed with one, else what it settled so far. */
  async counts(
    client: Client,
    description: WorkflowExecutionDescription,
    progress: Promise<Progress | undefined>,
  ): Promise<BatchView> {
    const { workflowId, runId, status } = description;
    const [start, asked] = await Promise.all([this.start(client.workflow, description), progress]);
    const summary =
      status.name === 'COMPLETED' ? await batchResult(client.workflow, { workflowId, runId }) : undefined;
    if (summary) return batchView(summary, 'result', start.source);
    if (asked) return settledSoFar(start, progressCounts(asked), 'progress');
    return settledSoFar(start, await this.history(client, description), 'history');
  }

  private async start(
    client: WorkflowClient,
    { workflowId, runId }: WorkflowExecutionDescription,
  ): Promise<ExecutionStart> {
    const kept = this.starts.get(runId);
    if (kept) return kept;
    const start = await executionStart(client, { workflowId, runId });
    this.starts.set(runId, start);
    return start;
  }

  private async history(
    client: Client,
    { workflowId, runId, status }: WorkflowExecutionDescription,
  ): Promise<ExecutionCounts> {
    const kept = this.histories.get(runId);
    if (kept && (status.name !== 'RUNNING' || Date.now() - kept.at < HISTORY_MS)) return kept.counts;
    const counts = await historyCounts(client.workflow.getHandle(workflowId, runId));
    this.histories.set(runId, { at: Date.now(), counts });
    return counts;
  }
}
