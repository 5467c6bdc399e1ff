import {
  type AgentStepSpec,
  type AgentStepSpecInput,
  type StepOutcome,
  failedOutcome,
} from '../../contracts';
import { type CombinatorOptions, parseSpecs, refuseSplitBudget } from './inputs';
import { DEFAULT_MAX_STEPS_PER_RUN, itemsPerChild, runPartitioned } from './partition';
import { settleQueued } from './pool';
import { settledOutcome } from './progress';
import { type RunContext, createRunContext } from './run-context';
import { type CallOptions, openCall } from './step-call';
import { firstActivity, isDeferred, queuesPlain, runQueuedStep, runStep, topLevel } from './steps';

/**
 * Combinator 1, the barrier: every spec runs, at most `concurrency`
 * activities at a time, and the result holds one outcome per spec in input
 * order. A step that crashes (after its retries) becomes a failed outcome;
 * the others are unaffected.
 */
export async function executeStepsParallel(
  specInputs: readonly AgentStepSpecInput[],
  options: CombinatorOptions = {},
): Promise<StepOutcome[]> {
  const { context = createRunContext(), ...rest } = options;
  const outcomes = await runStepsParallel(context, parseSpecs(specInputs), rest);
  return outcomes as StepOutcome[];
}

export interface ParallelCarry {
  /** Outcomes earlier executions of this run settled, by spec index: those specs do not run again. */
  done?: ReadonlyMap<number, StepOutcome>;
  /** See CallOptions: the execution may leave steps to the next one. */
  continuesAsNew?: boolean;
}

/**
 * {@link executeStepsParallel} for specs already validated. One outcome per
 * spec, or undefined for a step this execution left to the next (only with
 * `continuesAsNew`). A run bigger than `maxStepsPerRun` runs as child
 * `parallelWorkflow`s (./partition).
 */
export async function runStepsParallel(
  context: RunContext,
  specs: readonly AgentStepSpec[],
  options: Omit<CombinatorOptions, 'context'>,
  { done = new Map(), continuesAsNew = false }: ParallelCarry = {},
): Promise<(StepOutcome | undefined)[]> {
  if (specs.length === 0) return [];
  const maxStepsPerRun = options.maxStepsPerRun ?? DEFAULT_MAX_STEPS_PER_RUN;
  const perChild = await itemsPerChild(context, specs.length, options);
  if (perChild !== undefined) {
    refuseSplitBudget(options, specs.length, maxStepsPerRun);
    const outcomes = await runPartitioned<AgentStepSpec, StepOutcome[]>(context, {
      items: specs,
      perChild,
      limit: await context.limit(options.concurrency),
      workflowType: 'parallelWorkflow',
      stepOutcomes: true,
      childInput: (slice, _offset, concurrency) => ({
        ...options,
        ...context.forChildren(),
        specs: slice,
        concurrency,
      }),
      onChildFailure: (slice, _offset, message) =>
        slice.map((s) => failedOutcome(s.taskId, s.agent, message)),
    });
    return outcomes.flat();
  }
  context.budget.apply(options.budget);
  return runSpecs(context, specs, { ...options, continuesAsNew }, done);
}

/** Every spec not `done` as a top-level step of one call; `done` ones keep their outcome. */
async function runSpecs(
  context: RunContext,
  specs: readonly AgentStepSpec[],
  options: CallOptions,
  done: ReadonlyMap<number, StepOutcome>,
): Promise<(StepOutcome | undefined)[]> {
  const { board } = context;
  const entries = specs.map((spec, index) => {
    const carried = done.get(index);
    return board.addStep(spec, carried ? (carried.success ? 'succeeded' : 'failed') : 'pending');
  });
  const call = await openCall(context, options);
  for (const spec of specs) call.taskIds.add(spec.taskId);
  try {
    // Steps with nothing to do before their slot queue for it unbuilt: a thousand waiting cost one queue entry.
    const settled = await settleQueued(
      call.slots,
      specs,
      (spec, index) =>
        done.has(index) || !queuesPlain(call, spec, topLevel(index))
          ? undefined
          : firstActivity(spec, topLevel(index)),
      (spec, index, scope, grant) => {
        const carried = done.get(index);
        if (carried) return Promise.resolve(carried);
        const at = topLevel(index);
        const ran = grant
          ? runQueuedStep(call, spec, entries[index]!, at, grant, scope)
          : runStep(call, spec, entries[index]!, at);
        return ran.then((outcome) => (isDeferred(outcome) ? undefined : outcome));
      },
    );
    return settled.map((result, index) =>
      result.ok ? result.value : settledOutcome(result, specs[index]!, entries[index]!),
    );
  } finally {
    call.close();
  }
}
