/**
 * Outcomes of runs by reference (issue #33): the whole outcome goes to the
 * worker's outcome store, and history carries it without its output, so
 * neither a run's history nor its result grows with what its steps wrote.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { TaoActivities } from '../activity-api';
import type { OutcomePlace, StepOutcome } from '../contracts';
import { OUTCOME_ERROR_TYPE, type OutcomeStore } from '../outcomes';

/** What an outcome kept in the store leaves in history: all but its output and structured answer. */
export function keptOutcome(outcome: StepOutcome): StepOutcome {
  const kept: StepOutcome = { ...outcome, output: '', kept: true };
  delete kept.structured;
  return kept;
}

/**
 * Puts `outcome` at `place` and returns what history keeps of it. A put that
 * resolved is durable, so the activity may complete on it; a retried attempt
 * puts again, and the later put is the one readers see.
 */
export async function keepOutcome(
  outcomes: OutcomeStore | undefined,
  place: OutcomePlace,
  outcome: StepOutcome,
): Promise<StepOutcome> {
  await storeOf(outcomes).put(place.run, place.seq, outcome);
  return keptOutcome(outcome);
}

function storeOf(outcomes: OutcomeStore | undefined): OutcomeStore {
  if (outcomes) return outcomes;
  throw ApplicationFailure.nonRetryable(
    'this worker keeps no outcomes, and the run keeps its items by reference; start the worker with --store file:<dir> or postgres://… (every worker of the run must reach the same store)',
    OUTCOME_ERROR_TYPE,
  );
}

/** `keepOutcomes`: the outcomes a run by reference settled without a step activity (reused, cached, refused). */
export function createKeptOutcomeActivities(
  outcomes: OutcomeStore | undefined,
): Pick<TaoActivities, 'keepOutcomes'> {
  return {
    // Each put checks its outcome (checkedPut): one that is not a StepOutcome fails for good.
    async keepOutcomes(run, given) {
      const store = storeOf(outcomes);
      for (const { seq, outcome } of given) await store.put(run, seq, outcome);
    },
  };
}
