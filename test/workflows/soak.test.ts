import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { MemorySessionStore } from '../../src/stores/memory-store';
import type { Progress } from '../../src/workflows/lib';
import { GateExecutor, eventually } from '../support/gate-executor';
import { RecordingExecutor } from '../support/recording-executor';
import { echoed, spec } from '../support/specs';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const RUNS = 15;

describe('soak (SPEC 12)', () => {
  test('15 resumable workflows lose only their in-flight second step; on resume step 1 never runs again', async () => {
    const store = new MemorySessionStore();
    const checkpointIds = Array.from({ length: RUNS }, (_, i) => uniqueId(`soak-${i}`));
    const specsFor = (i: number) => [spec(`w${i}-step1`), spec(`w${i}-step2`)];
    const stepPolicy = { heartbeatTimeoutMs: 2_000 };

    // First life: every step 2 is held in flight, then every workflow is terminated.
    const first = new RecordingExecutor(
      new GateExecutor(new ScriptExecutor({ concurrency: 2 * RUNS }), (id) => id.endsWith('step2')),
    );
    await withWorker({ executor: first, store }, async ({ client, taskQueue }) => {
      const handles = await Promise.all(
        checkpointIds.map((checkpointId, i) =>
          client.workflow.start('resumableParallelWorkflow', {
            taskQueue,
            workflowId: uniqueId(`soak-first-${i}`),
            args: [{ checkpointId, specs: specsFor(i), stepPolicy }],
          }),
        ),
      );
      await eventually(async () => {
        const saved = await store.list();
        return saved.length === RUNS && saved.every((s) => s.steps === 1) ? saved : undefined;
      });
      // Concurrent executions share a worker, yet each progress board holds only its own steps.
      for (const [i, handle] of handles.entries()) {
        const progress = await handle.query<Progress>('progress');
        expect(progress.steps.map((s) => [s.taskId, s.status])).toEqual([
          [`w${i}-step1`, 'succeeded'],
          [`w${i}-step2`, 'running'],
        ]);
      }
      await Promise.all(handles.map((h) => h.terminate('simulated crash')));
    });
    expect(first.succeeded.filter((id) => id.endsWith('step2'))).toEqual([]);

    // Second life: new executions, same checkpoint ids.
    const second = new RecordingExecutor(new ScriptExecutor({ concurrency: 2 * RUNS }));
    await withWorker({ executor: second, store }, async ({ client, taskQueue }) => {
      const results: StepOutcome[][] = await Promise.all(
        checkpointIds.map((checkpointId, i) =>
          client.workflow.execute('resumableParallelWorkflow', {
            taskQueue,
            workflowId: uniqueId(`soak-second-${i}`),
            args: [{ checkpointId, specs: specsFor(i), stepPolicy }],
          }),
        ),
      );
      results.forEach((result, i) =>
        expect(result).toEqual([
          echoed(`w${i}-step1`, `do w${i}-step1`),
          echoed(`w${i}-step2`, `do w${i}-step2`),
        ]),
      );
    });
    for (let i = 0; i < RUNS; i++) {
      expect(first.runs(`w${i}-step1`) + second.runs(`w${i}-step1`)).toBe(1);
      expect(second.succeeded.filter((id) => id === `w${i}-step2`)).toHaveLength(1);
    }
    expect(await store.list()).toEqual([]);
  });
});
