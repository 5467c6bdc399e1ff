/**
 * A batch run's counts for its page (issue #33). A batch keeps no list of its
 * steps: an execution holds a window of them, and each settled step's outcome
 * is in the outcome store. So its page shows the run's summary: its result
 * once it completed; before that (or when it failed or was cancelled, without
 * one), what it settled so far, from two reads that never grow with the run:
 * what the earlier executions carried over (the current execution's start
 * event, in history) plus what this execution's steps settled (its
 * `progress`, which the page asks for anyway).
 */
import type { WorkflowClient } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { completedResult, startedEvent } from '../client/run-history';
import { sourceName } from '../client/spec-file';
import { ItemSourceSchema, type RunSummary, RunSummarySchema } from '../contracts';
import type { Progress } from '../workflows/lib/progress';

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
  /** Where the counts come from: the run's `result`; else the carry plus this execution's `progress`; else the carry alone (`history`: no worker answered). */
  counted: 'result' | 'progress' | 'history';
  /** Steps this execution started that have not settled; absent when no worker answered. */
  inFlight?: number;
  /** Where the run reads its steps, in a few words. */
  source?: string;
}

/** What one execution's start says: the summary earlier executions carried (zeros for the first) and the source. */
export interface ExecutionStart {
  carried: RunSummary | undefined;
  source?: string;
}

/** Reads an execution's start event: one event, which never changes (callers keep it by run id). */
export async function executionStart(
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
export async function batchResult(
  client: WorkflowClient,
  execution: { workflowId: string; runId: string },
): Promise<RunSummary | undefined> {
  const summary = RunSummarySchema.safeParse(await completedResult(client, execution));
  return summary.success ? summary.data : undefined;
}

/** A summary's counts and usage, as the page shows them. */
export function batchView(summary: Counts, counted: BatchView['counted'], source?: string): BatchView {
  const { total, succeeded, failed, usage } = summary;
  return { total, succeeded, failed, usage: { ...usage }, counted, ...(source ? { source } : {}) };
}

/**
 * What the run settled so far: the carry, plus this execution's settled steps
 * as its progress counts them, as the workflow's own summary will (a step
 * served from the cache or an earlier run succeeded; its usage counts).
 */
export function settledSoFar(start: ExecutionStart, progress: Progress | undefined): BatchView {
  const carried = start.carried ?? NOTHING_SETTLED;
  if (!progress) return batchView(carried, 'history', start.source);
  const { totals } = progress;
  const succeeded = totals.succeeded + totals.cached + totals.reused;
  const failed = totals.failed + totals.skipped;
  const costUsd = progress.steps.reduce((sum, step) => sum + (step.usage?.costUsd ?? 0), 0);
  return {
    ...batchView(
      {
        total: carried.total + succeeded + failed,
        succeeded: carried.succeeded + succeeded,
        failed: carried.failed + failed,
        usage: {
          inputTokens: carried.usage.inputTokens + progress.usage.inputTokens,
          outputTokens: carried.usage.outputTokens + progress.usage.outputTokens,
          costUsd: carried.usage.costUsd + costUsd,
        },
      },
      'progress',
      start.source,
    ),
    inFlight: totals.pending + totals.waiting + totals.running,
  };
}
