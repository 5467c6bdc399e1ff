/**
 * TaoPlugin on a worker of the user's own: it leaves the worker's settings
 * alone (its activity slots stay the user's, or the SDK's default), and
 * bounds TAO's own steps with its step permits instead, on a real dev
 * server: steps in flight never exceed the executor's hint while the user's
 * own activity, on the same worker, still runs.
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import type { WorkflowHandle } from '@temporalio/client';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { TaoPlugin } from '../../src/plugin';
import { MemorySessionStore } from '../../src/stores/memory-store';
import { GateExecutor, eventually } from '../support/gate-executor';
import { RecordingExecutor } from '../support/recording-executor';
import { spec, taskIds } from '../support/specs';
import { closeDevClient, devClient, devServerAddress, uniqueId, workflowBundle } from '../support/temporal';

const HINT = 2;
const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;

let connection: NativeConnection;
beforeAll(async () => (connection = await NativeConnection.connect({ address: devServerAddress() })));
afterAll(async () => {
  await connection?.close();
  await closeDevClient();
});

/** A worker of the user's, with their activity, their options, and TAO added as a plugin. */
function userWorker(executor: RecordingExecutor, options: Partial<WorkerOptions> = {}) {
  const taskQueue = uniqueId('plugin');
  return {
    taskQueue,
    worker: Worker.create({
      connection,
      taskQueue,
      workflowBundle: workflowBundle(),
      activities: { userActivity: async (input: string) => `user ${input}` },
      plugins: [new TaoPlugin({ executor, store: new MemorySessionStore() })],
      ...options,
    }),
  };
}

const activitySlots = (worker: Worker) => worker.options.tuner.activityTaskSlotSupplier;

test("the plugin keeps the worker's own activity slots (or tuner), throttle and sticky queue, and the SDK's when unset", async () => {
  const executor = new RecordingExecutor(new ScriptExecutor(), HINT);
  const own = await userWorker(executor, { maxConcurrentActivityTaskExecutions: 7 }).worker;
  const unset = await userWorker(executor).worker;
  // A tuner excludes maxConcurrentActivityTaskExecutions: with the plugin's, such a worker did not start.
  const slots = (numSlots: number) => ({ type: 'fixed-size' as const, numSlots });
  const tuned = await userWorker(executor, {
    tuner: {
      workflowTaskSlotSupplier: slots(10),
      activityTaskSlotSupplier: slots(5),
      localActivityTaskSlotSupplier: slots(5),
      nexusTaskSlotSupplier: slots(5),
    },
  }).worker;
  // Built workers must run to be shut down; none needs to do anything.
  await Promise.all([own, unset, tuned].map((worker) => worker.runUntil(async () => {})));
  expect(activitySlots(own)).toEqual(slots(7));
  expect(activitySlots(unset)).toEqual(slots(100));
  expect(activitySlots(tuned)).toEqual(slots(5));
  expect(unset.options.maxHeartbeatThrottleIntervalMs).toBe(60_000);
  expect(unset.options.stickyQueueScheduleToStartTimeoutMs).toBe(10_000);
});

test("steps in flight never exceed the executor's hint across runs, while the user's activity runs", async () => {
  const gate = new GateExecutor(new ScriptExecutor(), () => true);
  const executor = new RecordingExecutor(gate, HINT);
  const { worker, taskQueue } = userWorker(executor);
  const client = await devClient();
  await (
    await worker
  ).runUntil(async () => {
    // Two runs, each of which runs HINT steps at a time: twice the hint reach the worker together.
    const ids = ['a1', 'a2', 'a3', 'b1', 'b2', 'b3'];
    const runs = await Promise.all(
      [ids.slice(0, 3), ids.slice(3)].map((run) =>
        client.workflow.start('parallelWorkflow', {
          taskQueue,
          workflowId: uniqueId('plugin-bound'),
          args: [{ specs: run.map((id) => spec(id)) }],
        }),
      ),
    );
    await eventually(async () => ((await startedSteps(runs)) === 2 * HINT ? true : undefined));
    expect(executor.started).toHaveLength(HINT);
    // The two waiting for a permit beat too, so they never reach their heartbeat timeout.
    await eventually(async () => ((await startedSteps(runs, 'beating')) === 2 * HINT ? true : undefined));

    // Two steps are held in the executor and two wait for a permit; the user's activity is not among them.
    const mine = await client.workflow.execute('userActivityWorkflow', {
      taskQueue,
      workflowId: uniqueId('plugin-user'),
      args: ['hello'],
    });
    expect(mine).toBe('user hello');
    expect(executor.started).toHaveLength(HINT);

    for (const id of ids) gate.release(id);
    const results = (await Promise.all(runs.map((run) => run.result()))) as StepOutcome[][];
    expect(results.map(taskIds)).toEqual([ids.slice(0, 3), ids.slice(3)]);
    expect(executor.started).toHaveLength(ids.length);
    expect(executor.peak).toBe(HINT);
  });
});

/** Agent steps a worker has taken (started), in their first attempt, across `runs`, from the server's view; `beating`: that have heartbeated. */
async function startedSteps(runs: WorkflowHandle[], beating?: 'beating'): Promise<number> {
  const described = await Promise.all(runs.map((run) => run.describe()));
  return described
    .flatMap(({ raw }) => raw.pendingActivities ?? [])
    .filter((a) => a.state === STARTED && a.attempt === 1 && (!beating || a.lastHeartbeatTime)).length;
}
