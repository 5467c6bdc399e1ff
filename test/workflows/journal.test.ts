import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { MemorySessionStore } from '../../src/stores/memory-store';
import { GateExecutor, cancelWhileRunning, eventually, gatedExecutor } from '../support/gate-executor';
import { ObservedStore } from '../support/observed-store';
import type { Progress } from '../../src/workflows/lib';
import { spec } from '../support/specs';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

describe('the checkpoint journal', () => {
  test('appends are serialized and never regress, however steps interleave (SPEC resumable 3)', async () => {
    const store = new ObservedStore();
    const checkpointId = uniqueId('cp-journal');
    // Steps finish in a scrambled order, many while a slow save is still in flight.
    const delays = [90, 10, 60, 30, 120, 5, 45, 75, 20, 100, 15, 50];
    const executor = new ScriptExecutor({
      concurrency: 6,
      tasks: Object.fromEntries(delays.map((delayMs, i) => [`s${i}`, { delayMs }])),
      // One step fails, so the checkpoint is kept and its final content can be checked.
      agents: { verify: { success: false } },
    });
    const specs = [...delays.map((_, i) => spec(`s${i}`)), spec('fails', 'verify')];
    await withWorker({ executor, store }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('resumableParallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('journal'),
        args: [{ checkpointId, specs }],
      });
      const result: StepOutcome[] = await handle.result();
      expect(result.filter((o) => o.success)).toHaveLength(delays.length);

      // Each save sends only what is new, so history grows linearly with the steps, not quadratically.
      const { events } = await handle.fetchHistory();
      const appends = events!
        .map((e) => e.activityTaskScheduledEventAttributes)
        .filter((a) => a?.activityType?.name === 'saveCheckpoint')
        .map(
          (a) => JSON.parse(Buffer.from(a!.input!.payloads![1]!.data!).toString()) as { steps: unknown[] },
        );
      expect(appends.reduce((sum, a) => sum + a.steps.length, 0)).toBe(delays.length);
    });

    const saves = store.landed.filter((s) => s.checkpointId === checkpointId);
    expect(store.peakInFlight).toBe(1);
    expect(saves.every((s) => s.result === 'saved')).toBe(true);
    saves
      .slice(1)
      .forEach((save, i) => expect(save.taskIds).toEqual(expect.arrayContaining(saves[i]!.taskIds)));
    // Coalesced: steps that finished while a save was in flight (the first takes 120 ms) went in one
    // write, so there were fewer writes than successes; the last holds every success and no failure.
    expect(saves.length).toBeLessThan(delays.length);
    const final = await store.load(checkpointId);
    expect(final!.steps.map((s) => s.taskId).sort()).toEqual(
      specs
        .slice(0, -1)
        .map((s) => s.taskId)
        .sort(),
    );
  });

  test('cancelling a step leaves alone the save its lane started before', async () => {
    const store = new ObservedStore();
    const checkpointId = uniqueId('cp-lane');
    const gated = gatedExecutor();
    const { gate, executor } = gated;
    await withWorker({ executor, store }, async ({ client, taskQueue }) => {
      store.holdAppends();
      const handle = await client.workflow.start('resumableParallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('lane'),
        args: [
          {
            checkpointId,
            specs: ['a', 'b', 'c'].map((id) => spec(id)),
            concurrency: 1,
            stepPolicy: { heartbeatTimeoutMs: 1_000 },
          },
        ],
      });
      gate.release('a');
      // `a`'s save is in flight while `b`, next in the same lane, runs and is cancelled.
      await eventually(async () => (store.inFlight === 1 ? true : undefined));
      await cancelWhileRunning(handle, gated, 'b');
      store.releaseAppends();
      gate.release('c');
      const result: StepOutcome[] = await handle.result();
      expect(result.map((o) => [o.taskId, o.success])).toEqual([
        ['a', true],
        ['b', false],
        ['c', true],
      ]);
      expect((await handle.query<Progress>('progress')).storeWarnings).toEqual([]);
    });
    expect(store.landed.every((save) => save.result === 'saved')).toBe(true);
    expect((await store.load(checkpointId))!.steps.map((s) => s.taskId).sort()).toEqual(['a', 'c']);
  });

  test('a checkpoint removed under a running journal is rewritten whole, not left with a gap', async () => {
    const store = new MemorySessionStore();
    const checkpointId = uniqueId('cp-gap');
    const executor = new GateExecutor(
      new ScriptExecutor({ agents: { verify: { success: false } } }),
      (id) => id !== 'a',
    );
    await withWorker({ executor, store }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('resumableParallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('gap'),
        args: [{ checkpointId, specs: [spec('a'), spec('b'), spec('c', 'verify')] }],
      });
      await eventually(async () => ((await store.load(checkpointId))?.steps.length === 1 ? true : undefined));
      await store.delete(checkpointId);
      executor.release('b');
      executor.release('c');
      await handle.result();
    });
    expect((await store.load(checkpointId))!.steps.map((s) => s.taskId)).toEqual(['a', 'b']);
  });
});
