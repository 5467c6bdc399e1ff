/**
 * Outcomes of runs by reference (issue #33): the whole outcome goes to the
 * worker's outcome store, and history carries it without its output, so
 * neither a run's history nor its result grows with what its steps wrote.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { TaoActivities } from '../activity-api';
import type { AgentStepSpec, OutcomePlace, StepOutcome } from '../contracts';
import { OUTCOME_ERROR_TYPE, type OutcomeStore } from '../outcomes';
import { specDigest } from '../workflows/lib/spec-digest';

/** What an outcome kept in the store leaves in history: all but its output, structured answer and spec digest. */
export function keptOutcome(outcome: StepOutcome): StepOutcome {
  const kept: StepOutcome = { ...outcome, output: '', kept: true };
  delete kept.structured;
  delete kept.specDigest;
  return kept;
}

/**
 * Puts `outcome` of `spec` at `place`, with the spec's digest for a rerun to
 * match, and returns what history keeps of it. A put that resolved is
 * durable, so the activity may complete on it; a retried attempt puts again,
 * and the later put is the one readers see.
 */
export async function keepOutcome(
  outcomes: OutcomeStore | undefined,
  place: OutcomePlace,
  spec: AgentStepSpec,
  outcome: StepOutcome,
): Promise<StepOutcome> {
  await storeOf(outcomes).put(place.run, place.seq, { ...outcome, specDigest: specDigest(spec) });
  return keptOutcome(outcome);
}

function storeOf(outcomes: OutcomeStore | undefined): OutcomeStore {
  if (outcomes) return outcomes;
  throw ApplicationFailure.nonRetryable(
    'this worker keeps no outcomes, and the run keeps its items by reference; start the worker with --store file:<dir> or postgres://… (every worker of the run must reach the same store)',
    OUTCOME_ERROR_TYPE,
  );
}

/**
 * `keepOutcomes`: the outcomes a run by reference settled without a step
 * activity (cached, refused); `reuseOutcomes`: a rerun's, taken from the run
 * it reruns.
 */
export function createKeptOutcomeActivities(
  outcomes: OutcomeStore | undefined,
): Pick<TaoActivities, 'keepOutcomes' | 'reuseOutcomes'> {
  return {
    // Each put checks its outcome (checkedPut): one that is not a StepOutcome fails for good.
    async keepOutcomes(run, given) {
      const store = storeOf(outcomes);
      for (const { seq, outcome } of given) await store.put(run, seq, outcome);
    },
    async reuseOutcomes(from, into, steps) {
      const store = storeOf(outcomes);
      const wanted = new Map(steps.map((step) => [step.seq, step]));
      const reused: { seq: number; outcome: StepOutcome }[] = [];
      if (steps.length === 0) return reused;
      // A page's steps are (nearly) contiguous places, so one keyset read covers them.
      const first = Math.min(...wanted.keys());
      const last = Math.max(...wanted.keys());
      const found = await store.list(from, {
        ...(first > 0 ? { after: first - 1 } : {}),
        limit: last - first + 1,
      });
      for (const { seq, outcome } of found) {
        const step = wanted.get(seq);
        if (
          !step ||
          !outcome.success ||
          outcome.taskId !== step.taskId ||
          outcome.specDigest !== step.specDigest
        )
          continue;
        await store.put(into, seq, outcome);
        reused.push({ seq, outcome: keptOutcome(outcome) });
      }
      return reused;
    },
  };
}
