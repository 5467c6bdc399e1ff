/** Prints a finished run and decides the exit code `tao run` and `tao result` share. */
import { WorkflowFailedError } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { z } from 'zod';
import { type RunSummary, RunSummarySchema, StepOutcomeSchema } from '../contracts';
import type { Progress } from '../workflows/lib/progress';
import { resultRows, resultsTable, stepsTable } from './render';

const RunResultSchema = z.array(StepOutcomeSchema.nullable());

/**
 * Prints the result as a table (or JSON) and returns the exit code: 1 when a
 * step failed or a chain crashed, else 0. Results that are not TAO outcomes
 * (a user's own workflow) print as JSON.
 */
export function reportResult(result: unknown, progress: Progress | undefined, json: boolean): number {
  const summary = RunSummarySchema.safeParse(result);
  if (summary.success) return reportSummary(summary.data, json);
  const parsed = RunResultSchema.safeParse(result);
  const rows = parsed.success ? resultRows(parsed.data, progress) : [];
  console.log(json || !parsed.success ? JSON.stringify(result, null, 2) : resultsTable(rows));
  // The result holds the run's own steps; the tasks their agents delegated show under them.
  const delegated = progress?.steps.filter((step) => step.parentTaskId !== undefined) ?? [];
  if (!json && parsed.success && delegated.length > 0) {
    console.log(`delegated tasks:\n${stepsTable({ steps: delegated })}`);
  }
  return rows.some((row) => row.status === 'failed') ? 1 : 0;
}

/** A batch run's summary: its counts, the first failed steps, and where the outcomes are. */
function reportSummary(summary: RunSummary, json: boolean): number {
  if (json) console.log(JSON.stringify(summary, null, 2));
  else {
    const { total, succeeded, failed, failedSteps, usage, outcomes, reused } = summary;
    const named = failedSteps.map((step) => step.taskId).join(', ');
    const more = failed > failedSteps.length ? `, ${failed - failedSteps.length} more` : '';
    const taken = reused ? ` (${reused} reused)` : '';
    console.log(
      [
        `${total} steps: ${succeeded} succeeded${taken}, ${failed} failed${failed > 0 ? ` (${named}${more})` : ''}`,
        `tokens: ${usage.inputTokens} in, ${usage.outputTokens} out${usage.costUsd > 0 ? `; $${usage.costUsd.toFixed(4)}` : ''}`,
        `outcomes: tao results ${outcomes.run}${failed > 0 ? ` (--failed for the failures)` : ''}`,
      ].join('\n'),
    );
  }
  return summary.failed > 0 ? 1 : 0;
}

/** One line for the ways a workflow call fails: closed unsuccessfully, or no such workflow. */
export function explainWorkflowError(error: unknown, workflowId: string): unknown {
  if (error instanceof WorkflowFailedError) {
    const cause = error.cause ? `: ${error.cause.message}` : '';
    return new Error(`${workflowId}: ${error.message.toLowerCase()}${cause}`);
  }
  if (error instanceof WorkflowNotFoundError)
    return new Error(`no workflow ${workflowId} on this server and namespace`);
  return error;
}
