/**
 * The product's workflows plus a user's own workflow built on the
 * workflow-side library, with stage *functions* (not templates): what a user
 * importing `src/workflows/lib` writes. Bundled once for every test worker.
 */
import {
  condition,
  defineSignal,
  proxyActivities,
  setDefaultQueryHandler,
  setHandler,
} from '@temporalio/workflow';
import { getActivator } from '@temporalio/workflow/lib/global-attributes';
import type { AgentStepSpecInput, StepOutcome } from '../../src/contracts';
import {
  executeLoop,
  executePipeline,
  executeStepsParallel,
  executeStepsParallelResumable,
  type PipelineStage,
} from '../../src/workflows/lib';
import { RunSlots, type Want } from '../../src/workflows/lib/slots';

export * from '../../src/workflows';

interface FileItem {
  path: string;
  /** Test knobs: which stage function misbehaves for this item. */
  throwAtStage?: number;
  skipFirstStage?: boolean;
}

const step = (taskId: string, agent: string, prompt: string): AgentStepSpecInput => ({
  taskId,
  agent,
  prompt,
});

const reviewStages: PipelineStage<FileItem>[] = [
  (_prev, item) => (item.skipFirstStage ? undefined : step(`explore:${item.path}`, 'explore', item.path)),
  (prev, item) => {
    if (item.throwAtStage === 1) throw new Error(`cannot review ${item.path}`);
    return step(`review:${item.path}`, 'review', `review ${prev!.output}`);
  },
  (prev, item) => step(`verify:${item.path}`, 'verify', `verify ${prev!.output}`),
];

export async function reviewFilesWorkflow(
  items: FileItem[],
  concurrency?: number,
): Promise<(StepOutcome | null)[]> {
  return executePipeline(items, reviewStages, concurrency === undefined ? {} : { concurrency });
}

/** Two big fan-outs and a big resumable batch in one user workflow: each is split on its own. */
export async function bigBatchesWorkflow(
  specs: AgentStepSpecInput[],
  checkpointId: string,
  maxStepsPerRun: number,
): Promise<StepOutcome[][]> {
  const first = await executeStepsParallel(specs, { maxStepsPerRun });
  const second = await executeStepsParallel(specs, { maxStepsPerRun });
  const resumable = await executeStepsParallelResumable(specs, checkpointId, { maxStepsPerRun });
  return [first, second, resumable];
}

/**
 * A user's loop with a `next` function: each round retries, as `<item>-r<round>`, the items whose
 * step failed in the round before, until none fails or `maxIterations` rounds ran.
 */
export async function retryFailuresWorkflow({
  items,
  maxIterations,
}: {
  items: string[];
  maxIterations: number;
}): Promise<StepOutcome[]> {
  return executeLoop(
    items.map((item) => step(`${item}-r1`, 'general', `fix ${item}`)),
    maxIterations,
    (outcomes, round) =>
      outcomes
        .filter((outcome) => !outcome.success)
        .map((outcome) => {
          const item = outcome.taskId.replace(/-r\d+$/, '');
          return step(`${item}-r${round + 1}`, 'general', `fix ${item} again`);
        }),
  );
}

/** A user's own activity, on a worker that TAO joins as a plugin (test/integration/plugin-worker.test.ts). */
export async function userActivityWorkflow(input: string): Promise<string> {
  const { userActivity } = proxyActivities<{ userActivity(input: string): Promise<string> }>({
    startToCloseTimeout: '1 minute',
  });
  return userActivity(input);
}

export const finishForeignSignal = defineSignal('finish');

/**
 * Another team's workflow in a shared namespace, nothing of TAO's: it counts
 * every query it is sent (any name: TAO's `progress` too) until signalled to
 * finish, and returns that count. Its worker keeps it cached, so the count
 * holds for as long as the test needs it.
 */
export async function foreignWorkflow(): Promise<number> {
  let queries = 0;
  let finished = false;
  setDefaultQueryHandler(() => {
    queries += 1;
    return null;
  });
  setHandler(finishForeignSignal, () => void (finished = true));
  await condition(() => finished);
  return queries;
}

/**
 * `waits` steps queue for a run's one slot, each giving it back once granted.
 * Returns how many unsettled promises the SDK keeps, each with its stack
 * trace for the stack-trace query, before the waits and after the last one
 * was granted (test/workflows/slots.test.ts).
 */
export async function queuedWaitsWorkflow(waits: number): Promise<{ before: number; after: number }> {
  const kept = () => getActivator().promiseStackStore.promiseToStack.size;
  const slots = new RunSlots(
    () => 1,
    () => true,
    () => false,
  );
  const want = (i: number): Want => ({ taskId: `t${i}`, priority: [i], first: true, deferrable: false });
  slots.take(want(-1));
  const before = kept();
  const granted = Array.from({ length: waits }, (_, i) =>
    Promise.resolve(slots.take(want(i))).then(() => slots.release()),
  );
  slots.release();
  await Promise.all(granted);
  return { before, after: kept() };
}
