/**
 * SPEC "Temporal adds its own": a worker killed mid-run (SIGKILL) loses no
 * completed step. The worker runs in its own OS process and dies without a
 * word to the server; a fresh process on the same task queue finishes the run.
 * Each step logs its side effects to a file, so "ran exactly once" is counted
 * from what really happened, across both processes.
 */
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { StepOutcome } from '../../src/contracts';
import type { ScriptRule } from '../../src/executors/script';
import { FileSessionStore } from '../../src/stores/file-store';
import { eventually } from '../support/gate-executor';
import { completedStepIds } from '../support/history';
import { SideEffects } from '../support/side-effect-log';
import { echoed, spec } from '../support/specs';
import { useTempDir } from '../support/temp-dir';
import { closeDevClient, devClient, uniqueId } from '../support/temporal';
import { startWorkerProcess, stopWorkerProcesses } from '../support/worker-process';

afterAll(async () => {
  await stopWorkerProcesses();
  await closeDevClient();
});

const dir = useTempDir('tao-crash');

// The dead worker's steps time out on their heartbeat and are retried on the new
// worker after ~2 s, instead of the 60 s default meant for LLM steps.
const stepPolicy = { heartbeatTimeoutMs: 2_000, initialRetryIntervalMs: 200 };

/** Uneven step lengths, so the two steps in flight never finish in lockstep and a crash always catches one running. */
const delays = (taskIds: readonly string[]): Record<string, ScriptRule> =>
  Object.fromEntries(taskIds.map((taskId, i) => [taskId, { delayMs: 500 + 250 * (i % 3) }]));

interface CrashedRun<T> {
  result: T;
  /** The side-effect log as the killed worker left it. */
  beforeKill: SideEffects;
  /** The whole log once the run finished. */
  after: SideEffects;
  /** Steps the server had recorded as completed when the worker died. */
  completedBeforeKill: string[];
  firstPid: number;
  secondPid: number;
}

/**
 * Starts `workflowType` on a worker process, SIGKILLs the process once at
 * least two steps are recorded complete and another is running (and `alsoWhen`
 * holds), then starts a second worker process on the same queue and waits for
 * the result.
 */
async function runThroughCrash<T>(
  workflowType: string,
  input: object,
  taskIds: readonly string[],
  alsoWhen: () => Promise<boolean> = async () => true,
): Promise<CrashedRun<T>> {
  const logFile = join(dir(), 'side-effects.log');
  const config = {
    taskQueue: uniqueId('crash'),
    storeDir: join(dir(), 'store'),
    logFile,
    script: { concurrency: 2, tasks: delays(taskIds) },
  };
  const first = await startWorkerProcess(config);
  const client = await devClient();
  const handle: WorkflowHandle = await client.workflow.start(workflowType, {
    taskQueue: config.taskQueue,
    workflowId: uniqueId(workflowType),
    args: [input],
  });

  const killed = await eventually(async () => {
    if ((await completedStepIds(handle)).length < 2 || !(await alsoWhen())) return undefined;
    // Read the log and kill in the same tick: whatever it shows in flight is what the crash interrupts.
    if (SideEffects.read(logFile).inFlight().length === 0) return undefined;
    return { done: first.kill() };
  });
  await killed.done;
  const beforeKill = SideEffects.read(logFile);
  const completedBeforeKill = await completedStepIds(handle);

  // The retried steps run at once on the new worker, but the next workflow task first goes to the
  // dead worker's sticky queue and waits out its 10 s schedule-to-start timeout (the product worker's
  // default) before the normal queue gets it: most of this test's time, and what a real crash costs.
  const second = await startWorkerProcess(config);
  try {
    const result = (await handle.result()) as T;
    return {
      result,
      beforeKill,
      after: SideEffects.read(logFile),
      completedBeforeKill,
      firstPid: first.pid,
      secondPid: second.pid,
    };
  } finally {
    await second.stop();
  }
}

/** What "loses no completed step" means, step by step, for a run through a crash. */
function expectNoCompletedStepLost(run: CrashedRun<unknown>, taskIds: readonly string[]): void {
  const { beforeKill, after, completedBeforeKill, firstPid, secondPid } = run;
  const pids = (taskId: string) => after.starts(taskId).map((start) => start.pid);
  // The crash really happened mid-run: some steps were complete, another was running.
  expect(completedBeforeKill.length).toBeGreaterThanOrEqual(2);
  expect(beforeKill.inFlight().length).toBeGreaterThanOrEqual(1);

  for (const taskId of taskIds) {
    expect(after.done()).toContain(taskId);
    if (completedBeforeKill.includes(taskId)) {
      // Completed in history before the crash: never run again.
      expect(pids(taskId)).toEqual([firstPid]);
    } else if (beforeKill.inFlight().includes(taskId)) {
      // Running when the worker died: the attempt died with it, so it ran again, once, on the new worker.
      expect(pids(taskId)).toEqual([firstPid, secondPid]);
    } else if (beforeKill.done().includes(taskId)) {
      // Finished its side effect, but the crash beat the completion to the server: at-least-once, so maybe twice.
      expect(pids(taskId)[0]).toBe(firstPid);
      expect(pids(taskId).length).toBeLessThanOrEqual(2);
    } else {
      // Not started before the crash: runs once, on the new worker.
      expect(pids(taskId)).toEqual([secondPid]);
    }
  }
}

describe('a worker process killed mid-run (SIGKILL)', () => {
  test('resumableParallelWorkflow: completed steps never run again; the run finishes on a new worker', async () => {
    const taskIds = Array.from({ length: 8 }, (_, i) => `s${i}`);
    const checkpointId = uniqueId('crash-cp');
    const store = () => new FileSessionStore(join(dir(), 'store'));
    const checkpointed = async () => (await store().load(checkpointId))?.steps.map((s) => s.taskId) ?? [];

    const run = await runThroughCrash<StepOutcome[]>(
      'resumableParallelWorkflow',
      { checkpointId, specs: taskIds.map((id) => spec(id)), concurrency: 2, stepPolicy },
      taskIds,
      // Also wait for the journal, so the crash lands after checkpoint writes too.
      async () => (await checkpointed()).length >= 2,
    );

    expect(run.result).toEqual(taskIds.map((id) => echoed(id, `do ${id}`)));
    expectNoCompletedStepLost(run, taskIds);
    // Full success after the crash still deletes the checkpoint.
    expect(await store().load(checkpointId)).toBeUndefined();
  });

  test('pipelineWorkflow: completed stages never run again; every chain finishes on a new worker', async () => {
    const items = ['a', 'b', 'c', 'd'];
    const taskIds = items.flatMap((item) => [`explore-${item}`, `review-${item}`]);

    const run = await runThroughCrash<(StepOutcome | null)[]>(
      'pipelineWorkflow',
      {
        items,
        stages: [
          { taskId: 'explore-{{item}}', agent: 'explore', prompt: 'look at {{item}}' },
          { taskId: 'review-{{item}}', agent: 'review', prompt: 'review {{prev.output}}' },
        ],
        concurrency: 2,
        stepPolicy,
      },
      taskIds,
    );

    // In input order, each chain's last stage built on its first stage's output.
    expect(run.result).toEqual(
      items.map((item) => echoed(`review-${item}`, `review look at ${item}`, 'review')),
    );
    expectNoCompletedStepLost(run, taskIds);
  });
});
