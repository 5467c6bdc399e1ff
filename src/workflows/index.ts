/**
 * Workflow types startable by name with plain JSON, e.g.
 * `temporal workflow start --type pipelineWorkflow --input '{...}'`.
 * Each creates its run's context first, so its queries and Updates answer
 * even when its input is bad, then validates the input: a bad input fails the
 * workflow at once with a non-retryable error naming the field, never a
 * workflow-task retry loop.
 *
 * Each continues as new when its history fills (lib/history): the steps it
 * did not start, with what the run settled so far, go to the next execution.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  workflowInfo,
} from '@temporalio/workflow';
import type { z } from 'zod';
import {
  type AgentStepSpecInput,
  type Budget,
  type BudgetSpent,
  type LoopInput,
  LoopInputSchema,
  type BatchInput,
  BatchInputSchema,
  type ParallelInput,
  type PipelinePlan,
  ParallelInputSchema,
  type PipelineInput,
  PipelineInputSchema,
  type ResumableParallelInput,
  type RunSummary,
  type Reuse,
  ResumableParallelInputSchema,
  type StepMessage,
  type ToolGrant,
  type StepOutcome,
  describeZodError,
} from '../contracts';
import { executeLoop } from './lib';
import { historyFilling } from './lib/history';
import { type CombinatorOptions, invalidInput, refuseSplitBudget, uniqueTaskIds } from './lib/inputs';
import { runSource, runSplit } from './lib/by-reference';
import { runStepsParallel } from './lib/parallel';
import { DEFAULT_MAX_STEPS_PER_RUN, itemsPerChild, runPartitioned } from './lib/partition';
import { runPipeline } from './lib/pipeline';
import { runResumablePartitions, runResumableWindow } from './lib/resumable';
import { type RunContext, createRunContext } from './lib/run-context';
import {
  checkDerivedTaskIds,
  checkTemplates,
  itemsOf,
  loopRoundSpecs,
  roundMeets,
  stageFromTemplate,
} from './stage-templates';

export { progressQuery } from './lib';

type RunState = 'paused' | 'budgetSpent' | 'reuse' | 'messages' | 'toolGrants';

/**
 * The run's context, then its input, parsed; what an earlier execution
 * carried of the run's state (pause, the budget's spend, what a rerun may
 * still reuse, messages to steps not yet ended, tool calls allowed for the
 * run) goes into the context, and
 * the rest is returned.
 */
function start<S extends z.ZodTypeAny>(
  schema: S,
  raw: unknown,
): { context: RunContext; input: Omit<z.output<S>, RunState> } {
  const context = createRunContext();
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw invalidInput(describeZodError(parsed.error));
  const { paused, budgetSpent, reuse, messages, toolGrants, ...input } = parsed.data as {
    paused?: boolean;
    budgetSpent?: BudgetSpent;
    reuse?: Reuse;
    budget?: Budget;
    messages?: Record<string, StepMessage[]>;
    toolGrants?: ToolGrant[];
  };
  context.applyReuse(reuse);
  context.messages.restore(messages);
  for (const grant of toolGrants ?? []) context.grantTool(grant);
  context.controls.paused ||= paused === true;
  context.budget.apply(input.budget, budgetSpent);
  return { context, input: input as Omit<z.output<S>, RunState> };
}

/**
 * What the next execution needs to stay paused, at the concurrency set,
 * within the same budget, reusing what is left, with the messages its steps
 * have yet to read and the tool calls people allowed.
 */
function carryOver(context: RunContext) {
  const { controls, budget, reuse, messages } = context;
  const left = reuse?.left();
  // Every key is set, so one copied from the input before it is overwritten; undefined ones are not sent.
  return {
    ...(controls.concurrency !== undefined ? { concurrency: controls.concurrency } : {}),
    paused: controls.paused ? true : undefined,
    ...(budget.active ? { budget: budget.limits } : {}),
    budgetSpent: budget.active ? budget.spent : undefined,
    reuse: left,
    messages: messages.pending(),
    toolGrants: context.toolGrants.count > 0 ? context.toolGrants.all() : undefined,
  };
}

/** Positions and what they settled, for the next execution's `carried`. */
function settledSoFar<T>(results: readonly (T | undefined)[]): { index: number; outcome: T }[] {
  return results.flatMap((outcome, index) => (outcome === undefined ? [] : [{ index, outcome }]));
}

const byIndex = <T>(carried: readonly { index: number; outcome: T }[] = []) =>
  new Map(carried.map(({ index, outcome }) => [index, outcome]));

/** Lets Update handlers under way finish: continuing as new would drop their answers. */
const handlersFinished = () => condition(allHandlersFinished);

export async function parallelWorkflow(raw: ParallelInput): Promise<StepOutcome[]> {
  const { context, input } = start(ParallelInputSchema, raw);
  const { specs, carried, ...options } = input;
  uniqueTaskIds(specs);
  const outcomes = await runStepsParallel(context, specs, options, {
    done: byIndex(carried),
    continuesAsNew: true,
  });
  if (outcomes.every((outcome) => outcome !== undefined)) return outcomes as StepOutcome[];
  await handlersFinished();
  return continueAsNew<typeof parallelWorkflow>({
    ...options,
    ...carryOver(context),
    specs,
    carried: settledSoFar(outcomes),
  });
}

/** A parallel run or pipeline by reference (lib/by-reference): its items a source, its outcomes in the outcome store. */
export async function batchWorkflow(raw: BatchInput): Promise<RunSummary> {
  const { context, input } = start(BatchInputSchema, raw);
  const { source, carried, ...options } = input;
  if (options.stages) checkTemplates(options.stages);
  if (!carried && !options.part) {
    const split = await runSplit(context, source, options);
    if (split) return split;
  }
  const ran = await runSource(context, source, options, carried);
  if ('summary' in ran) return ran.summary;
  await handlersFinished();
  return continueAsNew<typeof batchWorkflow>({
    ...options,
    ...carryOver(context),
    source,
    carried: ran.carry,
  });
}

export async function pipelineWorkflow(raw: PipelineInput): Promise<(StepOutcome | null)[]> {
  const { context, input } = start(PipelineInputSchema, raw);
  const { items: given, plan, stages, indexOffset = 0, carried, ...options } = input;
  checkTemplates(stages);
  const items = given ?? (await plannedItems(context, plan!, options));
  checkDerivedTaskIds(stages, items, indexOffset);
  const maxStepsPerRun = options.maxStepsPerRun ?? DEFAULT_MAX_STEPS_PER_RUN;
  const perChild = await itemsPerChild(context, items.length, options, stages.length);
  if (perChild !== undefined) {
    refuseSplitBudget(options, items.length * stages.length, maxStepsPerRun);
    // Templates are data, so a slice of the items runs as a child pipelineWorkflow unchanged.
    const results = await runPartitioned<unknown, (StepOutcome | null)[]>(context, {
      items,
      perChild,
      limit: await context.limit(options.concurrency),
      workflowType: 'pipelineWorkflow',
      childInput: (slice, offset, concurrency) => ({
        ...options,
        ...context.forChildren(),
        items: slice,
        stages,
        concurrency,
        indexOffset: indexOffset + offset,
      }),
      onChildFailure: (slice) => slice.map(() => null),
    });
    return results.flat();
  }
  const results = await runPipeline(
    context,
    items,
    stages.map((stage) => stageFromTemplate(stage, indexOffset)),
    options,
    { done: byIndex(carried), continuesAsNew: true },
  );
  if (results.every((result) => result !== undefined)) return results as (StepOutcome | null)[];
  await handlersFinished();
  return continueAsNew<typeof pipelineWorkflow>({
    ...options,
    ...carryOver(context),
    items,
    stages,
    indexOffset,
    carried: settledSoFar(results),
  });
}

export async function resumableParallelWorkflow(raw: ResumableParallelInput): Promise<StepOutcome[]> {
  const { context, input } = start(ResumableParallelInputSchema, raw);
  const { specs, checkpointId = workflowInfo().workflowId, carriedFailures = [], ...options } = input;
  uniqueTaskIds(specs);
  // A budget binds one execution at a time, so a run with one keeps to executions in turn.
  const split = !options.budget && (await itemsPerChild(context, specs.length, options));
  if (split) {
    return runResumablePartitions(context, specs, checkpointId, split, options, carriedFailures);
  }
  const run = await runResumableWindow(context, specs, checkpointId, options, carriedFailures, true);
  if ('outcomes' in run) return run.outcomes;
  // The checkpoint holds this execution's successes; the next starts from it with a fresh history.
  await handlersFinished();
  return continueAsNew<typeof resumableParallelWorkflow>({
    ...options,
    ...carryOver(context),
    specs,
    checkpointId,
    carriedFailures: run.carriedFailures,
  });
}

/**
 * Combinator 4 as JSON (see lib/loop): rounds of the barrier, each after the
 * first built from `next.specs` over the previous round's outcomes, until
 * `until` holds or `maxIterations` rounds ran. Between rounds it continues as
 * new when its history fills (or after `roundsPerRun` rounds, when set);
 * progress shows the round.
 */
export async function loopWorkflow(raw: LoopInput): Promise<StepOutcome[]> {
  const { context, input } = start(LoopInputSchema, raw);
  const { initial, maxIterations, next, until, roundsPerRun, round: firstRound = 1, ...options } = input;
  if (next) checkTemplates(next.specs, 'next.specs');
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
    {
      ...options,
      context,
      firstRound,
      stopAfter: (round) =>
        historyFilling() || (roundsPerRun !== undefined && round - firstRound + 1 >= roundsPerRun),
    },
  );
  if (!carry) return last;
  await handlersFinished();
  // The next execution reuses only what this one did not take, and nothing once a round ran a step again.
  return continueAsNew<typeof loopWorkflow>({
    ...raw,
    ...carryOver(context),
    initial: carry.specs,
    round: carry.round,
  });
}

/** A pipeline's items from its plan step's outcome: it runs first, as a step of the run. */
async function plannedItems(
  context: RunContext,
  plan: PipelinePlan,
  options: Omit<CombinatorOptions, 'context'>,
): Promise<unknown[]> {
  const [outcome] = await runStepsParallel(context, [plan.step], options);
  // A plan step that ran again may name other items: a rerun reuses no chain's step then.
  context.reuse?.closeIfRan();
  if (!outcome!.success) {
    throw ApplicationFailure.nonRetryable(
      `plan step ${plan.step.taskId} failed, so the pipeline has no items: ${outcome!.error ?? outcome!.output}`,
      'PlanFailed',
    );
  }
  return itemsOf(outcome!, plan);
}
