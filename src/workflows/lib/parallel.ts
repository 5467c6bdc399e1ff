import { type AgentStepSpecInput, type StepOutcome, failedOutcome } from '../../contracts';
import { runBounded } from './pool';
import { progressBoard } from './progress';
import { type CombinatorOptions, parseSpecs, resolveLimit, runStep, stepActivities } from './steps';

/**
 * Combinator 1, the barrier: every spec runs, at most `limit` at a time, and
 * the result holds one outcome per spec in input order. A step that crashes
 * (after its retries) becomes a failed outcome; the others are unaffected.
 */
export async function executeStepsParallel(
  specInputs: readonly AgentStepSpecInput[],
  options: CombinatorOptions = {},
): Promise<StepOutcome[]> {
  const specs = parseSpecs(specInputs);
  if (specs.length === 0) return [];
  const board = progressBoard();
  const entries = specs.map((spec) =>
    board.add({ key: spec.taskId, taskId: spec.taskId, agent: spec.agent, status: 'pending' }),
  );
  const activities = stepActivities(options.stepPolicy);
  const limit = await resolveLimit(options.concurrency);
  const settled = await runBounded(specs, limit, (spec, index) => runStep(activities, spec, entries[index]!));
  return settled.map((result, index) =>
    result.ok
      ? result.value
      : failedOutcome(specs[index]!.taskId, specs[index]!.agent, String(entries[index]!.error)),
  );
}
