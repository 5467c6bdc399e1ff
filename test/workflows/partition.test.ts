/**
 * Runs bigger than one history holds are split transparently: the thresholds
 * are made small here so a few steps cross them.
 */
import { fetchRunProgress, runningSteps } from '../../src/client';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { MemorySessionStore } from '../../src/stores/memory-store';
import type { Progress } from '../../src/workflows/lib';
import { MAX_ACTIVITIES_IN_FLIGHT } from '../../src/workflows/lib/slots';
import { GateExecutor, eventually } from '../support/gate-executor';
import { everyExecution, peakActivitiesInFlight } from '../support/history';
import { RecordingExecutor } from '../support/recording-executor';
import { spec, taskIds } from '../support/specs';
import { closeDevClient, devClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const ids = (n: number, prefix = 's') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** The most child workflows the run had open at once, from its history. */
async function mostChildrenOpen(workflowId: string): Promise<number> {
  const { events } = await (await devClient()).workflow.getHandle(workflowId).fetchHistory();
  let open = 0;
  let most = 0;
  for (const event of events!) {
    if (event.startChildWorkflowExecutionInitiatedEventAttributes) most = Math.max(most, ++open);
    if (
      event.childWorkflowExecutionCompletedEventAttributes ||
      event.childWorkflowExecutionFailedEventAttributes
    )
      open -= 1;
  }
  return most;
}

describe('runs split across executions', () => {
  test('parallel: child workflows share the limit; same results, same order', async () => {
    const executor = new RecordingExecutor(new ScriptExecutor({ default: { delayMs: 30 } }));
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('parallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('split-parallel'),
        args: [{ specs: ids(10).map((id) => spec(id)), concurrency: 3, maxStepsPerRun: 4 }],
      });
      const result: StepOutcome[] = await handle.result();
      expect(taskIds(result)).toEqual(ids(10));
      expect(result.every((o) => o.output === `do ${o.taskId}`)).toBe(true);
      expect(ids(10).map((id) => executor.runs(id))).toEqual(ids(10).map(() => 1));
      expect(executor.peak).toBeLessThanOrEqual(3);

      const progress = await handle.query<Progress>('progress');
      expect(progress.partitions!.map((p) => [p.first, p.count, p.status])).toEqual([
        [0, 4, 'succeeded'],
        [4, 4, 'succeeded'],
        [8, 2, 'succeeded'],
      ]);
      // The parent ran no step itself; each child holds at most its share.
      const activities = async (workflowId: string) =>
        (await client.workflow.getHandle(workflowId).fetchHistory()).events!.filter(
          (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'executeAgentStep',
        ).length;
      expect(await activities(handle.workflowId)).toBe(0);
      for (const partition of progress.partitions!) {
        expect(await activities(partition.workflowId)).toBe(partition.count);
      }
      // A limit of 3 fills one child of 4 steps: the children ran one after another, each at 3.
      expect(await mostChildrenOpen(handle.workflowId)).toBe(1);
    });
  });

  test('only as many children run at once as fill the limit, and one more when it divides evenly', async () => {
    const executor = new RecordingExecutor(new ScriptExecutor({ default: { delayMs: 20 } }));
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const run = async (concurrency: number) => {
        const handle = await client.workflow.start('parallelWorkflow', {
          taskQueue,
          workflowId: uniqueId('split-share'),
          args: [{ specs: ids(12).map((id) => spec(id)), concurrency, maxStepsPerRun: 3 }],
        });
        const result: StepOutcome[] = await handle.result();
        expect(taskIds(result)).toEqual(ids(12));
        return mostChildrenOpen(handle.workflowId);
      };
      // 4 steps need two children of 3; a third would split 4 unevenly. 6 divides among three, two each.
      expect(await run(4)).toBe(2);
      expect(await run(6)).toBe(3);
    });
  });

  test('pipeline: partitions keep {{index}} global and give what one execution gives', async () => {
    const stages = [
      { taskId: 'a-{{index}}', agent: 'explore', prompt: '{{index}}:{{item}}' },
      { taskId: 'b-{{index}}', agent: 'review', prompt: 'saw {{prev.output}}' },
    ];
    const items = ['p', 'q', 'r', 's', 't'];
    await withWorker({ executor: new ScriptExecutor() }, async ({ client, taskQueue }) => {
      const run = (maxStepsPerRun?: number) =>
        client.workflow.execute('pipelineWorkflow', {
          taskQueue,
          workflowId: uniqueId('split-pipeline'),
          args: [{ items, stages, ...(maxStepsPerRun ? { maxStepsPerRun } : {}) }],
        });
      const split: (StepOutcome | null)[] = await run(4);
      expect(split.map((o) => o?.output)).toEqual(items.map((item, i) => `saw ${i}:${item}`));
      expect(split).toEqual(await run());
    });
  });

  test('resumable: partitions run side by side on one checkpoint; a failure is not re-run in the run; resume runs only it', async () => {
    const store = new MemorySessionStore();
    const checkpointId = uniqueId('cp-partitions');
    const specs = ids(10).map((id) => spec(id));
    const gate = new GateExecutor(
      new ScriptExecutor({ tasks: { s2: { success: false, output: 'no' } } }),
      (taskId) => ['s0', 's4', 's8'].includes(taskId),
    );
    const first = new RecordingExecutor(gate);
    await withWorker({ executor: first, store }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('resumableParallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('partitions'),
        args: [
          {
            checkpointId,
            specs,
            maxStepsPerRun: 4,
            concurrency: 8,
            stepPolicy: { heartbeatTimeoutMs: 1_000 },
          },
        ],
      });
      // Two partitions of four at four each; the third waits for one of them, each held at its first step.
      await eventually(async () => (first.started.length === 8 ? true : undefined));
      expect([...first.started].sort()).toEqual(ids(8).sort());
      // The parent's view counts its children's steps, and finds their running ones.
      const live = await eventually(async () => {
        const progress = (await fetchRunProgress(handle))!;
        return progress.totals.running === 2 && progress.totals.pending === 2 ? progress : undefined;
      });
      expect(live.totals).toMatchObject({ all: 10, succeeded: 5, failed: 1 });
      const running = await eventually(async () => {
        const steps = (await runningSteps(handle)).map((step) => step.taskId).sort();
        return steps.length === 2 ? steps : undefined;
      });
      expect(running).toEqual(['s0', 's4']);
      for (const id of running) gate.release(id);
      await eventually(async () => (first.started.includes('s8') ? true : undefined));
      gate.release('s8');
      const result: StepOutcome[] = await handle.result();
      expect(taskIds(result)).toEqual(ids(10));
      expect(result.map((o) => o.success)).toEqual(ids(10).map((id) => id !== 's2'));
      expect(ids(10).map((id) => first.runs(id))).toEqual(ids(10).map(() => 1));
      expect(first.peak).toBeLessThanOrEqual(8);
      expect(await mostChildrenOpen(handle.workflowId)).toBe(2);
      const progress = await handle.query<Progress>('progress');
      expect(progress.partitions!.map((p) => [p.first, p.count, p.status])).toEqual([
        [0, 4, 'succeeded'],
        [4, 4, 'succeeded'],
        [8, 2, 'succeeded'],
      ]);
      expect((await fetchRunProgress(handle))!.totals).toMatchObject({ all: 10, succeeded: 9, failed: 1 });
      expect((await handle.describe()).status.name).toBe('COMPLETED');
      expect(handle.firstExecutionRunId).toBe((await handle.describe()).runId);
    });
    // A partition whose steps all succeeded leaves the shared checkpoint to the parent, which keeps it for s2.
    expect((await store.load(checkpointId))!.steps).toHaveLength(9);

    const second = new RecordingExecutor(new ScriptExecutor());
    await withWorker({ executor: second, store }, async ({ client, taskQueue }) => {
      const result: StepOutcome[] = await client.workflow.execute('resumableParallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('partitions-resume'),
        args: [{ checkpointId, specs, maxStepsPerRun: 4 }],
      });
      expect(result.every((o) => o.success)).toBe(true);
      expect(result.map((o) => o.output)).toEqual(ids(10).map((id) => `do ${id}`));
      expect(second.started).toEqual(['s2']);
    });
    expect(await store.load(checkpointId)).toBeUndefined();
  });

  test('resumable: a partitioned run terminated mid-way resumes without re-running any checkpointed step', async () => {
    const store = new MemorySessionStore();
    const checkpointId = uniqueId('cp-stopped');
    const specs = ids(8).map((id) => spec(id));
    const held = new Set(['s3', 's7']);
    const first = new RecordingExecutor(new GateExecutor(new ScriptExecutor(), (id) => held.has(id)));
    await withWorker({ executor: first, store }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('resumableParallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('stopped'),
        args: [{ checkpointId, specs, maxStepsPerRun: 4, concurrency: 2 }],
      });
      // Both partitions journal their first three steps, then hold at their last.
      await eventually(async () => ((await store.load(checkpointId))?.steps.length === 6 ? true : undefined));
      await handle.terminate('stopped by the test');
    });
    const second = new RecordingExecutor(new ScriptExecutor());
    await withWorker({ executor: second, store }, async ({ client, taskQueue }) => {
      const result: StepOutcome[] = await client.workflow.execute('resumableParallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('stopped-resume'),
        args: [{ checkpointId, specs, maxStepsPerRun: 4, concurrency: 2 }],
      });
      expect(result.map((o) => o.output)).toEqual(ids(8).map((id) => `do ${id}`));
      expect([...second.started].sort()).toEqual(['s3', 's7']);
    });
    // Each checkpointed step ran once, in the first run.
    expect([...first.started].sort()).toEqual(['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7']);
    expect(await store.load(checkpointId)).toBeUndefined();
  });

  test('a concurrency above what one execution keeps in flight splits the run into children that share it; a budgeted run keeps to one execution at the cap', async () => {
    // Steps slow enough that the run's slots fill: each execution's history shows how many it held.
    const executor = new RecordingExecutor(
      new ScriptExecutor({ concurrency: 200, default: { delayMs: 400 } }),
    );
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const split = await client.workflow.start('resumableParallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('split-by-concurrency'),
        args: [{ specs: ids(100).map((id) => spec(id)), concurrency: 120 }],
      });
      const budgeted = await client.workflow.start('parallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('budgeted-at-cap'),
        args: [
          { specs: ids(60, 'b').map((id) => spec(id)), concurrency: 120, budget: { maxTokens: 1_000_000 } },
        ],
      });
      expect(taskIds(await split.result())).toEqual(ids(100));
      expect(taskIds(await budgeted.result())).toEqual(ids(60, 'b'));
      expect([...ids(100), ...ids(60, 'b')].every((id) => executor.runs(id) === 1)).toBe(true);
      // More at once than one execution holds, across the split run's three partitions (40 each) and the budgeted run.
      expect(executor.peak).toBeGreaterThan(MAX_ACTIVITIES_IN_FLIGHT);
      expect(executor.peak).toBeLessThanOrEqual(120 + MAX_ACTIVITIES_IN_FLIGHT);

      const progress = await split.query<Progress>('progress');
      expect(progress.partitions!.map((p) => [p.first, p.count, p.status])).toEqual([
        [0, 34, 'succeeded'],
        [34, 34, 'succeeded'],
        [68, 32, 'succeeded'],
      ]);
      const histories = await everyExecution(client, split.workflowId, split.firstExecutionRunId);
      expect(histories).toHaveLength(4);
      const budgetedHistories = await everyExecution(
        client,
        budgeted.workflowId,
        budgeted.firstExecutionRunId,
      );
      expect(budgetedHistories).toHaveLength(1);
      // Each partition ran all its steps at once (its share of 120 is 40); the budgeted run, not split, at the cap.
      expect(histories.slice(1).map(peakActivitiesInFlight).sort()).toEqual([32, 34, 34]);
      expect(budgetedHistories.map(peakActivitiesInFlight)).toEqual([MAX_ACTIVITIES_IN_FLIGHT]);
    });
  });

  test('inside a user workflow, each big call is split on its own, with no child id clash', async () => {
    const store = new MemorySessionStore();
    const checkpointId = uniqueId('cp-user');
    const executor = new RecordingExecutor(new ScriptExecutor());
    await withWorker({ executor, store }, async ({ client, taskQueue }) => {
      const specs = ids(5).map((id) => spec(id));
      const results: StepOutcome[][] = await client.workflow.execute('bigBatchesWorkflow', {
        taskQueue,
        workflowId: uniqueId('user-big'),
        args: [specs, checkpointId, 2],
      });
      expect(results.map(taskIds)).toEqual([ids(5), ids(5), ids(5)]);
      expect(ids(5).map((id) => executor.runs(id))).toEqual(ids(5).map(() => 3));
    });
    expect(await store.load(checkpointId)).toBeUndefined();
  });
});
