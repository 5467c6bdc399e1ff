/**
 * Workflow types startable by name with plain JSON, e.g.
 * `temporal workflow start --type pipelineWorkflow --input '{...}'`.
 * Each validates its input first: a bad input fails the workflow at once with
 * a non-retryable error naming the field, never a workflow-task retry loop.
 */
import { ApplicationFailure, continueAsNew, workflowInfo } from '@temporalio/workflow';
import type { z } from 'zod';
import {
  type AgentStepSpecInput,
  type Budget,
  type BudgetSpent,
  type LoopInput,
  LoopInputSchema,
  type ParallelInput,
  type PipelinePlan,
  ParallelInputSchema,
  type PipelineInput,
  PipelineInputSchema,
  type ResumableParallelInput,
  type Reuse,
  ResumableParallelInputSchema,
  type StepOutcome,
  describeZodError,
} from '../contracts';
import { executeLoop, executePipeline, progressBoard } from './lib';
import { runStepsParallel } from './lib/parallel';
import { DEFAULT_MAX_STEPS_PER_RUN, itemsPerRun, runPartitioned } from './lib/partition';
import { runApprovals } from './lib/approvals';
import { applyBudget, runBudget } from './lib/budget';
import { runControls } from './lib/controls';
import { applyReuse, runReuse } from './lib/reuse';
import { runResumablePartitions, runResumableWindow, uniqueSpecs } from './lib/resumable';
import { type CombinatorOptions, invalidInput, refuseSplitBudget, resolveLimit } from './lib/steps';
import { checkTemplates, itemsOf, loopRoundSpecs, roundMeets, stageFromTemplate } from './stage-templates';

export { progressQuery } from './lib';

/**
 * `big` names the input's arrays a run can hold thousands of entries in: once
 * parsed, their raw copies are emptied. The SDK keeps a workflow's arguments
 * referenced until it ends, so a 10,000-step run's raw specs (20 MB at 2 KB
 * prompts) stayed in the worker for the run's life beside the parsed ones,
 * which go as their children finish (see runPartitioned).
 */
function parseInput<S extends z.ZodTypeAny>(
  schema: S,
  input: unknown,
  big: readonly string[] = [],
): z.output<S> {
  // Register the progress query and the steering updates before anything can fail, so they always answer.
  progressBoard();
  runControls();
  runApprovals();
  runBudget();
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw invalidInput(describeZodError(parsed.error));
  applyReuse((parsed.data as { reuse?: Reuse }).reuse);
  for (const key of big) {
    const raw = (input as Record<string, unknown>)[key];
    if (Array.isArray(raw) && raw !== (parsed.data as Record<string, unknown>)[key]) raw.length = 0;
  }
  return parsed.data;
}

export async function parallelWorkflow(input: ParallelInput): Promise<StepOutcome[]> {
  const { specs, paused = false, ...options } = parseInput(ParallelInputSchema, input, ['specs']);
  runControls().paused ||= paused;
  return runStepsParallel(specs, options);
}

export async function pipelineWorkflow(input: PipelineInput): Promise<(StepOutcome | null)[]> {
  const {
    items: given,
    plan,
    stages,
    indexOffset = 0,
    paused = false,
    ...options
  } = parseInput(PipelineInputSchema, input, ['items']);
  runControls().paused ||= paused;
  checkTemplates(stages);
  const items = given ?? (await plannedItems(plan!, options));
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
  } = parseInput(ResumableParallelInputSchema, input, ['specs']);
  restoreSteering(paused, options.budget, budgetSpent);
  const unique = uniqueSpecs(specs);
  const maxStepsPerRun = options.maxStepsPerRun ?? DEFAULT_MAX_STEPS_PER_RUN;
  // A budget binds one execution at a time, so a run with one keeps to windows in turn.
  if (unique.length > maxStepsPerRun && !options.budget) {
    return runResumablePartitions(unique, checkpointId, options, carriedFailures);
  }
  const run = await runResumableWindow(unique, checkpointId, options, carriedFailures);
  if ('outcomes' in run) return run.outcomes;
  // The checkpoint holds this window's successes; the next execution starts from it with a fresh history.
  return continueAsNew<typeof resumableParallelWorkflow>({
    ...options,
    ...steeringToCarry(),
    specs,
    checkpointId,
    carriedFailures: run.carriedFailures,
  });
}

/**
 * Combinator 4 as JSON (see lib/loop): rounds of the barrier, each after the
 * first built from `next.specs` over the previous round's outcomes, until
 * `until` holds or `maxIterations` rounds ran. Every `roundsPerRun` rounds it
 * continues as new, so a long loop's history stays bounded; progress shows the round.
 */
export async function loopWorkflow(input: LoopInput): Promise<StepOutcome[]> {
  const {
    initial,
    maxIterations,
    next,
    until,
    roundsPerRun = DEFAULT_ROUNDS_PER_RUN,
    round: firstRound = 1,
    paused = false,
    budgetSpent,
    ...options
  } = parseInput(LoopInputSchema, input);
  if (next) checkTemplates(next.specs, 'next.specs');
  restoreSteering(paused, options.budget, budgetSpent);
  let carry: { round: number; specs: AgentStepSpecInput[] } | undefined;
  const last = await executeLoop(
    initial,
    maxIterations,
    (outcomes, round) => {
      const more =
        until && roundMeets(until, outcomes)
          ? []
          : next
            ? loopRoundSpecs(next.specs, round + 1, outcomes)
            : [];
      carry = more.length > 0 && round < maxIterations ? { round: round + 1, specs: more } : undefined;
      return more;
    },
    { ...options, firstRound, stopAfterRound: firstRound + roundsPerRun - 1 },
  );
  if (!carry) return last;
  // The next execution reuses only what this one did not take, and nothing once a round ran a step again.
  const reuse = runReuse()?.left();
  return continueAsNew<typeof loopWorkflow>({
    ...input,
    ...steeringToCarry(),
    reuse,
    initial: carry.specs,
    round: carry.round,
  });
}

const DEFAULT_ROUNDS_PER_RUN = 10;

/** A pipeline's items from its plan step's outcome: it runs first, as a step of the run. */
async function plannedItems(plan: PipelinePlan, options: CombinatorOptions): Promise<unknown[]> {
  const [outcome] = await runStepsParallel([plan.step], options);
  // A plan step that ran again may name other items: a rerun reuses no chain's step then.
  runReuse()?.closeIfRan();
  if (!outcome!.success) {
    throw ApplicationFailure.nonRetryable(
      `plan step ${plan.step.taskId} failed, so the pipeline has no items: ${outcome!.error ?? outcome!.output}`,
      'PlanFailed',
    );
  }
  return itemsOf(outcome!, plan);
}

/** Puts back what an execution continued from carried: pause, and the budget with its spend. */
function restoreSteering(paused: boolean, budget: Budget | undefined, spent: BudgetSpent | undefined): void {
  runControls().paused ||= paused;
  applyBudget(budget, spent);
}

/** What the next execution needs to stay paused, at the concurrency set, within the same budget. */
function steeringToCarry() {
  const controls = runControls();
  const budget = runBudget();
  return {
    ...(controls.concurrency !== undefined ? { concurrency: controls.concurrency } : {}),
    ...(controls.paused ? { paused: true } : {}),
    ...(budget.active ? { budget: budget.limits, budgetSpent: budget.spent } : {}),
  };
}
