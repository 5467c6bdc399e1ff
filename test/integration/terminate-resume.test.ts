/**
 * SPEC "Temporal adds its own": a workflow terminated mid-run and started
 * again with the same `checkpointId` resumes from the checkpoint. Termination
 * ends the execution for good (its history cannot resume it), so only the
 * SessionStore carries progress into the new execution.
 */
import { readdirSync } from 'node:fs';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { FileSessionStore } from '../../src/stores/file-store';
import type { Progress } from '../../src/workflows/lib';
import { eventually } from '../support/gate-executor';
import { RecordingExecutor } from '../support/recording-executor';
import { echoed, spec } from '../support/specs';
import { useTempDir } from '../support/temp-dir';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const dir = useTempDir('tao-terminate');

describe('a resumableParallelWorkflow terminated mid-run', () => {
  test('a new execution with the same checkpointId runs only the steps not yet done', async () => {
    const store = new FileSessionStore(dir());
    const checkpointId = uniqueId('terminated-cp');
    const taskIds = Array.from({ length: 8 }, (_, i) => `s${i}`);
    const input = { checkpointId, specs: taskIds.map((id) => spec(id)), concurrency: 2 };

    // Each life tags its output, so the result shows which execution produced each outcome.
    const first = new RecordingExecutor(
      new ScriptExecutor({ default: { delayMs: 400, output: 'first life: {{prompt}}' } }),
    );
    const firstWorkflowId = uniqueId('terminated');
    await withWorker({ executor: first, store }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('resumableParallelWorkflow', {
        taskQueue,
        workflowId: firstWorkflowId,
        args: [input],
      });
      // Mid-run: at least two steps journaled, others still running.
      await eventually(async () => {
        const journaled = (await store.load(checkpointId))?.steps.length ?? 0;
        const progress = await handle.query<Progress>('progress');
        return journaled >= 2 && progress.totals.running >= 1 ? progress : undefined;
      });
      await handle.terminate('operator stopped the run');
      expect((await handle.describe()).status.name).toBe('TERMINATED');
    });

    // The first worker has shut down, so nothing more can land in the store: this is what survived.
    const checkpoint = await store.load(checkpointId);
    const cached = new Map(checkpoint!.steps.map(({ taskId, outcome }) => [taskId, outcome]));
    const notDone = taskIds.filter((id) => !cached.has(id));
    expect(cached.size).toBeGreaterThanOrEqual(2);
    expect(notDone.length).toBeGreaterThanOrEqual(1);
    for (const [taskId, outcome] of cached) {
      expect(outcome).toEqual(echoed(taskId, `first life: do ${taskId}`));
    }

    const second = new RecordingExecutor(
      new ScriptExecutor({ default: { output: 'second life: {{prompt}}' } }),
    );
    await withWorker({ executor: second, store }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('resumableParallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('resumed'),
        args: [input],
      });
      const result: StepOutcome[] = await handle.result();

      // All outcomes in input order: journaled ones exactly as the first life left them, the rest fresh.
      expect(result).toEqual(taskIds.map((id) => cached.get(id) ?? echoed(id, `second life: do ${id}`)));
      // Only the steps not yet done ran, each once.
      expect([...second.started].sort()).toEqual(notDone);
      const progress = await handle.query<Progress>('progress');
      expect(progress.totals).toMatchObject({ cached: cached.size, succeeded: notDone.length, all: 8 });
    });

    // A journaled step ran in the first life only, and once.
    for (const taskId of cached.keys()) expect(first.runs(taskId)).toBe(1);
    // Full success deletes the checkpoint: no file left behind.
    expect(await store.load(checkpointId)).toBeUndefined();
    expect(readdirSync(store.folder)).toEqual([]);
  });
});
