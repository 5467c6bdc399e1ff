/**
 * Combinator 4, the loop (a3s's `execute_loop`): rounds of the barrier. Each
 * round runs its specs in parallel; `next` sees the round's outcomes and
 * returns the next round's specs, or nothing to stop. `maxIterations` is
 * mandatory and a hard cap: the loop never runs more rounds than that. The
 * result is the last round's outcomes, as in a3s.
 */
import type { AgentStepSpecInput, StepOutcome } from '../../contracts';
import { type CombinatorOptions, invalidInput, parseSpecs } from './inputs';
import { runStepsParallel } from './parallel';
import { createRunContext } from './run-context';

/** The next round's specs from this round's outcomes (`round` counts from 1); none, or empty, stops. */
export type LoopNext = (outcomes: StepOutcome[], round: number) => AgentStepSpecInput[] | undefined;

export interface LoopOptions extends CombinatorOptions {
  /** The number of the first round, for a loop that continues one that ran before (default 1). */
  firstRound?: number;
  /** After each round that is not the last: whether this call stops there, for its caller to continue as new. */
  stopAfter?: (round: number) => boolean;
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
  const { firstRound = 1, stopAfter = () => false, context = createRunContext(), ...combinator } = options;
  const { board } = context;
  let specs = [...initial];
  let last: StepOutcome[] = [];
  for (let round = firstRound; specs.length > 0 && round <= maxIterations; round++) {
    board.loop = { round, maxIterations };
    const path = round === firstRound ? 'initial' : `round ${round} specs`;
    last = (await runStepsParallel(context, parseSpecs(specs, path), combinator)) as StepOutcome[];
    // A rerun reuses rounds up to the first that ran a step again: later rounds are built on its outcomes.
    context.reuse?.closeIfRan();
    // As in a3s, `next` sees every round, the last one included; the cap decides whether its answer runs.
    const more = next(last, round) ?? [];
    specs = round < maxIterations && !stopAfter(round) ? more : [];
  }
  return last;
}
