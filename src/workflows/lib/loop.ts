/**
 * Combinator 4, the loop (a3s's `execute_loop`): rounds of the barrier. Each
 * round runs its specs in parallel; `next` sees the round's outcomes and
 * returns the next round's specs, or nothing to stop. `maxIterations` is
 * mandatory and a hard cap: the loop never runs more rounds than that. The
 * result is the last round's outcomes, as in a3s.
 */
import type { AgentStepSpecInput, StepOutcome } from '../../contracts';
import { executeStepsParallel } from './parallel';
import { progressBoard } from './progress';
import { runReuse } from './reuse';
import { type CombinatorOptions, invalidInput } from './steps';

/** The next round's specs from this round's outcomes (`round` counts from 1); none, or empty, stops. */
export type LoopNext = (outcomes: StepOutcome[], round: number) => AgentStepSpecInput[] | undefined;

export interface LoopOptions extends CombinatorOptions {
  /** The number of the first round, for a loop that continues one that ran before (default 1). */
  firstRound?: number;
  /** The last round this call runs even when the loop goes on: where a caller continues as new. */
  stopAfterRound?: number;
}

export async function executeLoop(
  initial: readonly AgentStepSpecInput[],
  maxIterations: number,
  next: LoopNext,
  options: LoopOptions = {},
): Promise<StepOutcome[]> {
  if (!Number.isInteger(maxIterations) || maxIterations < 1) {
    throw invalidInput(
      `maxIterations: must be a whole number ≥ 1 (the loop's hard cap), got ${maxIterations}`,
    );
  }
  const board = progressBoard();
  const { firstRound = 1, stopAfterRound = maxIterations, ...combinator } = options;
  const lastRound = Math.min(maxIterations, stopAfterRound);
  let specs = [...initial];
  let last: StepOutcome[] = [];
  for (let round = firstRound; specs.length > 0 && round <= lastRound; round++) {
    board.loop = { round, maxIterations };
    last = await executeStepsParallel(specs, combinator);
    // A rerun reuses rounds up to the first that ran a step again: later rounds are built on its outcomes.
    runReuse()?.closeIfRan();
    // As in a3s, `next` sees every round, the last one included; the cap decides whether its answer runs.
    const more = next(last, round) ?? [];
    specs = round < lastRound ? more : [];
  }
  return last;
}
