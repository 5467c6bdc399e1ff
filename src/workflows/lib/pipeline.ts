import type { AgentStepSpec, AgentStepSpecInput, StepOutcome } from '../../contracts';
import { runBounded } from './pool';
import { applyBudget } from './budget';
import { progressBoard } from './progress';
import { TOP_LEVEL } from './delegation';
import {
  type CombinatorOptions,
  StepCrashed,
  parseSpec,
  resolveLimit,
  runStep,
  stepActivities,
} from './steps';

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
 * as its own chain, at most `limit` chains in flight, so item A may be in stage
 * 3 while item B is in stage 1 and wall-clock is the slowest single chain.
 *
 * A chain ends when a stage returns nothing or a step fails (later stages would
 * only build on a failed result). Per item the result is its last outcome, or
 * `null` when the first stage produced nothing, a stage function threw, or a
 * step crashed; those reasons show in progress and never fail the workflow.
 */
export async function executePipeline<I>(
  items: readonly I[],
  stages: readonly PipelineStage<I>[],
  options: CombinatorOptions = {},
): Promise<(StepOutcome | null)[]> {
  if (items.length === 0) return [];
  applyBudget(options.budget);
  const board = progressBoard();
  const activities = stepActivities(options.stepPolicy);
  const firstEntries = items.map((_, index) =>
    board.add({ key: `${index}/0`, item: index, stage: 0, status: 'pending' }),
  );
  const limit = await resolveLimit(options.concurrency);

  const runChain = async (item: I, index: number): Promise<StepOutcome | null> => {
    let prev: StepOutcome | undefined;
    // A rerun reuses a chain's steps up to the first that runs again: later stages build on its outcome.
    let reusable = true;
    for (let stage = 0; stage < stages.length; stage++) {
      const entry =
        stage === 0
          ? firstEntries[index]!
          : board.add({ key: `${index}/${stage}`, item: index, stage, status: 'pending' });
      let spec: AgentStepSpec | undefined;
      try {
        const built = stages[stage]!(prev, item, index);
        spec = built === undefined ? undefined : parseSpec(built, `items.${index} stage ${stage}`);
      } catch (error) {
        Object.assign(entry, {
          status: 'failed',
          error: `stage ${stage} threw: ${(error as Error).message}`,
        });
        skipRest(index, stage + 1);
        return null;
      }
      if (spec === undefined) {
        entry.status = 'skipped';
        skipRest(index, stage + 1);
        break;
      }
      try {
        prev = await runStep(activities, spec, entry, TOP_LEVEL, reusable);
        reusable &&= entry.status === 'reused';
      } catch (error) {
        if (error instanceof StepCrashed) {
          skipRest(index, stage + 1);
          return null;
        }
        throw error;
      }
      if (!prev.success) {
        skipRest(index, stage + 1);
        break;
      }
    }
    return prev ?? null;
  };

  const skipRest = (item: number, from: number): void => {
    for (let stage = from; stage < stages.length; stage++) {
      board.add({ key: `${item}/${stage}`, item, stage, status: 'skipped' });
    }
  };

  const settled = await runBounded(items, limit, runChain);
  // runChain catches its own failures; a rejected slot can only be an unexpected bug, which still nulls one chain.
  return settled.map((result) => (result.ok ? result.value : null));
}
