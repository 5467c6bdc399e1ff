import type { AgentStepSpec, AgentStepSpecInput, StepOutcome } from '../../contracts';
import { type CombinatorOptions, StepCrashed, parseSpec } from './inputs';
import { settleAll } from './pool';
import type { StepProgress } from './progress';
import { type RunContext, createRunContext } from './run-context';
import { type StepCall, openCall } from './step-call';
import { isDeferred, runStep } from './steps';
import { TOP_LEVEL } from './delegation';

/**
 * A pipeline stage: from the previous stage's outcome (`undefined` before the
 * first stage) and the item, the next step to run, or `undefined` to end the
 * chain. It runs inside the workflow, so it must be pure and deterministic.
 */
export type PipelineStage<I> = (
  prev: StepOutcome | undefined,
  item: I,
  index: number,
) => AgentStepSpecInput | undefined;

/**
 * Combinator 2, no barrier between stages: each item flows through the stages
 * as its own chain, so item A may be in stage 3 while item B is in stage 1 and
 * wall-clock is the slowest single chain. At most `concurrency` activities
 * run at once; an earlier item's later stage goes before a later item's first.
 *
 * A chain ends when a stage returns nothing or a step fails (later stages would
 * only build on a failed result). Per item the result is its last outcome, or
 * `null` when the first stage produced nothing, a stage function threw, a
 * stage's task id repeated another step's, or a step crashed; those reasons
 * show in progress and never fail the workflow.
 */
export async function executePipeline<I>(
  items: readonly I[],
  stages: readonly PipelineStage<I>[],
  options: CombinatorOptions = {},
): Promise<(StepOutcome | null)[]> {
  const { context = createRunContext(), ...rest } = options;
  return (await runPipeline(context, items, stages, rest)) as (StepOutcome | null)[];
}

export interface PipelineCarry {
  /** Results earlier executions of this run settled, by item index: those chains do not run again. */
  done?: ReadonlyMap<number, StepOutcome | null>;
  continuesAsNew?: boolean;
}

/** Per item its result, or undefined for a chain this execution left to the next (only with `continuesAsNew`). */
export async function runPipeline<I>(
  context: RunContext,
  items: readonly I[],
  stages: readonly PipelineStage<I>[],
  options: Omit<CombinatorOptions, 'context'>,
  { done = new Map(), continuesAsNew = false }: PipelineCarry = {},
): Promise<(StepOutcome | null | undefined)[]> {
  if (items.length === 0) return [];
  context.budget.apply(options.budget);
  const { board } = context;
  const firstEntries = items.map((_, index) =>
    done.has(index) ? undefined : board.add({ key: `${index}/0`, item: index, stage: 0, status: 'pending' }),
  );
  const call = await openCall(context, { ...options, continuesAsNew });
  const chain = new Chains(call, stages);
  try {
    const settled = await settleAll(items, (item, index) =>
      done.has(index) ? Promise.resolve(done.get(index)!) : chain.run(item, index, firstEntries[index]!),
    );
    // A chain catches its own failures; a rejected one can only be an unexpected bug, which still nulls one chain.
    return settled.map((result) => (result.ok ? result.value : null));
  } finally {
    call.close();
  }
}

/**
 * Each item's chain of stages on one call; `onStep` sees each stage's
 * outcome. In a run by reference only the last stage's activity keeps its
 * outcome out of history: the others' outputs are what later stages render
 * from.
 */
export class Chains<I> {
  constructor(
    private readonly call: StepCall,
    private readonly stages: readonly PipelineStage<I>[],
    private readonly onStep?: (outcome: StepOutcome) => void,
  ) {}

  async run(item: I, index: number, firstEntry: StepProgress): Promise<StepOutcome | null | undefined> {
    const { board } = this.call.context;
    let prev: StepOutcome | undefined;
    // A rerun reuses a chain's steps up to the first that runs again: later stages build on its outcome.
    let reusable = true;
    for (let stage = 0; stage < this.stages.length; stage++) {
      const entry =
        stage === 0
          ? firstEntry
          : board.add({ key: `${index}/${stage}`, item: index, stage, status: 'pending' });
      const spec = this.build(item, index, stage, prev, entry);
      if (spec === 'failed') return null;
      if (spec === undefined) {
        entry.status = 'skipped';
        this.skipRest(index, stage + 1);
        break;
      }
      board.named(entry, spec.taskId, spec.agent);
      try {
        const outcome = await runStep(this.call, spec, entry, {
          place: TOP_LEVEL,
          priority: [index, stage],
          reusable,
          deferrable: stage === 0,
          ...(stage < this.stages.length - 1 ? { keeps: false as const } : {}),
        });
        if (isDeferred(outcome)) return undefined;
        this.onStep?.(outcome);
        prev = outcome;
        reusable &&= entry.status === 'reused';
      } catch (error) {
        if (error instanceof StepCrashed) {
          this.skipRest(index, stage + 1);
          return null;
        }
        throw error;
      }
      if (!prev.success) {
        this.skipRest(index, stage + 1);
        break;
      }
    }
    return prev ?? null;
  }

  /** The stage's spec, undefined when the stage ends the chain, or `failed` (said in the entry). */
  private build(
    item: I,
    index: number,
    stage: number,
    prev: StepOutcome | undefined,
    entry: StepProgress,
  ): AgentStepSpec | undefined | 'failed' {
    let error: string | undefined;
    let spec: AgentStepSpec | undefined;
    try {
      const built = this.stages[stage]!(prev, item, index);
      spec = built === undefined ? undefined : parseSpec(built, `items.${index} stage ${stage}`);
    } catch (thrown) {
      error = `stage ${stage} threw: ${(thrown as Error).message}`;
    }
    if (spec && this.call.taskIds.has(spec.taskId)) {
      error = `invalid input: items.${index} stage ${stage}: task id "${spec.taskId}" repeats another step's in this run; every step of a run needs its own task id`;
    }
    if (error === undefined) {
      if (spec) this.call.taskIds.add(spec.taskId);
      return spec;
    }
    Object.assign(entry, { status: 'failed', error });
    this.skipRest(index, stage + 1);
    return 'failed';
  }

  private skipRest(item: number, from: number): void {
    for (let stage = from; stage < this.stages.length; stage++) {
      this.call.context.board.add({ key: `${item}/${stage}`, item, stage, status: 'skipped' });
    }
  }
}
