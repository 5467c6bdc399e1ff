/**
 * Workflow types startable by name with plain JSON, e.g.
 * `temporal workflow start --type pipelineWorkflow --input '{...}'`.
 * Each validates its input first: a bad input fails the workflow at once with
 * a non-retryable error naming the field, never a workflow-task retry loop.
 */
import { continueAsNew, patched, workflowInfo } from '@temporalio/workflow';
import type { z } from 'zod';
import {
  type ParallelInput,
  ParallelInputSchema,
  type PipelineInput,
  PipelineInputSchema,
  type ResumableParallelInput,
  ResumableParallelInputSchema,
  type StepOutcome,
  StrictParallelInputSchema,
  StrictResumableParallelInputSchema,
  describeZodError,
} from '../contracts';
import { executePipeline, executeStepsParallel, progressBoard } from './lib';
import { DEFAULT_MAX_STEPS_PER_RUN, itemsPerRun, runPartitioned } from './lib/partition';
import { runApprovals } from './lib/approvals';
import { applyBudget, runBudget } from './lib/budget';
import { runControls } from './lib/controls';
import { parseUniqueSpecs, runResumableWindow } from './lib/resumable';
import { STRICT_STEP_SPECS, invalidInput, refuseSplitBudget, resolveLimit } from './lib/steps';
import { checkTemplates, stageFromTemplate } from './stage-templates';

export { progressQuery } from './lib';

function parseInput<S extends z.ZodTypeAny>(schema: S, input: unknown): z.output<S> {
  // Register the progress query and the steering updates before anything can fail, so they always answer.
  progressBoard();
  runControls();
  runApprovals();
  runBudget();
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw invalidInput(describeZodError(parsed.error));
  return parsed.data;
}

export async function parallelWorkflow(input: ParallelInput): Promise<StepOutcome[]> {
  const schema = patched(STRICT_STEP_SPECS) ? StrictParallelInputSchema : ParallelInputSchema;
  const { specs, ...options } = parseInput(schema, input);
  return executeStepsParallel(specs, options);
}

export async function pipelineWorkflow(input: PipelineInput): Promise<(StepOutcome | null)[]> {
  const { items, stages, indexOffset = 0, ...options } = parseInput(PipelineInputSchema, input);
  checkTemplates(stages);
  const maxStepsPerRun = options.maxStepsPerRun ?? DEFAULT_MAX_STEPS_PER_RUN;
  if (items.length * stages.length > maxStepsPerRun) {
    refuseSplitBudget(options, items.length * stages.length, maxStepsPerRun);
    // Templates are data, so a slice of the items runs as a child pipelineWorkflow unchanged.
    return runPartitioned<unknown, StepOutcome | null>({
      items,
      perChild: itemsPerRun(maxStepsPerRun, stages.length),
      limit: await resolveLimit(options.concurrency),
      workflowType: 'pipelineWorkflow',
      childInput: (slice, offset, concurrency) => ({
        ...options,
        items: slice,
        stages,
        concurrency,
        indexOffset: indexOffset + offset,
      }),
      onChildFailure: (slice) => slice.map(() => null),
    });
  }
  return executePipeline(
    items,
    stages.map((stage) => stageFromTemplate(stage, indexOffset)),
    options,
  );
}

export async function resumableParallelWorkflow(input: ResumableParallelInput): Promise<StepOutcome[]> {
  const {
    specs,
    checkpointId = workflowInfo().workflowId,
    carriedFailures = [],
    paused = false,
    budgetSpent,
    ...options
  } = parseInput(
    patched(STRICT_STEP_SPECS) ? StrictResumableParallelInputSchema : ResumableParallelInputSchema,
    input,
  );
  const controls = runControls();
  controls.paused ||= paused;
  applyBudget(options.budget, budgetSpent);
  const run = await runResumableWindow(parseUniqueSpecs(specs), checkpointId, options, carriedFailures);
  if ('outcomes' in run) return run.outcomes;
  const budget = runBudget();
  // The checkpoint holds this window's successes; the next execution starts from it with a fresh history,
  // paused if this one was, at the concurrency it was set to.
  return continueAsNew<typeof resumableParallelWorkflow>({
    ...options,
    ...(controls.concurrency !== undefined ? { concurrency: controls.concurrency } : {}),
    ...(controls.paused ? { paused: true } : {}),
    ...(budget.active ? { budget: budget.limits, budgetSpent: budget.spent } : {}),
    specs,
    checkpointId,
    carriedFailures: run.carriedFailures,
  });
}
