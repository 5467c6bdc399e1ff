/**
 * Steering a running run on the dev server: pause and resume, a new
 * concurrency limit, and cancelling one step, through the client library
 * (the `tao` commands use the same functions) and through the Temporal CLI.
 * Steps are held at a gate, so each test observes an exact moment.
 */
import { type WorkflowHandle, WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { cancelStep, pauseRun, resumeRun, setRunConcurrency } from '../../src/client';
import type { StepOutcome } from '../../src/contracts';
import type { Progress } from '../../src/workflows/lib';
import { cancelWhileRunning, eventually, gatedExecutor, untilIn } from '../support/gate-executor';
import { spec } from '../support/specs';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';
import { updateFromCli } from '../support/temporal-cli';

afterAll(closeDevClient);

const progressOf = (handle: WorkflowHandle) => handle.query<Progress>('progress');
const statusOf = async (handle: WorkflowHandle, taskId: string) =>
  (await progressOf(handle)).steps.find((step) => step.taskId === taskId)?.status;

test('pause: running steps finish, no new one starts; resume: the rest run', async () => {
  const { gate, executor, started } = gatedExecutor();
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('pause'),
      args: [{ specs: ['a', 'b', 'c'].map((id) => spec(id)), concurrency: 1 }],
    });
    await eventually(async () => (started.length === 1 ? true : undefined));
    expect(await pauseRun(handle)).toEqual({ paused: true });
    gate.release('a');
    await eventually(async () => ((await statusOf(handle, 'a')) === 'succeeded' ? true : undefined));
    // The lane is free, but the run is paused: b waits as pending, and progress says why.
    const paused = await progressOf(handle);
    expect(paused).toMatchObject({ paused: true, totals: { succeeded: 1, pending: 2, running: 0 } });
    expect(started).toEqual(['a']);

    expect(await resumeRun(handle)).toEqual({ paused: false });
    gate.release('b');
    gate.release('c');
    const result: StepOutcome[] = await handle.result();
    expect(result.map((o) => o.success)).toEqual([true, true, true]);
    expect(started).toEqual(['a', 'b', 'c']);
  });
});

test('cancelling a paused run ends it: waiting steps do not hold it open', async () => {
  const { executor, started } = gatedExecutor();
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('pause-cancel'),
      args: [{ specs: [spec('a'), spec('b')], concurrency: 1, stepPolicy: { heartbeatTimeoutMs: 1_000 } }],
    });
    await eventually(async () => (started.length === 1 ? true : undefined));
    await pauseRun(handle);
    await handle.cancel();
    const failure = await handle.result().catch((error: unknown) => error);
    expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(started).toEqual(['a']);
  });
});

test('setConcurrency raises the limit of a running run at once, and lowers it as steps finish', async () => {
  const { gate, executor, started } = gatedExecutor();
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('concurrency'),
      args: [{ specs: ['a', 'b', 'c', 'd', 'e'].map((id) => spec(id)), concurrency: 1 }],
    });
    await eventually(async () => (started.length === 1 ? true : undefined));
    expect(await setRunConcurrency(handle, 3)).toEqual({ paused: false, concurrency: 3 });
    await eventually(async () => (started.length === 3 ? true : undefined));
    expect((await progressOf(handle)).totals.running).toBe(3);

    await setRunConcurrency(handle, 1);
    for (const id of ['a', 'b', 'c']) gate.release(id);
    await eventually(async () => (started.length === 4 ? true : undefined));
    expect([...started.slice(0, 3)].sort()).toEqual(['a', 'b', 'c']);
    expect(started[3]).toBe('d');
    expect((await progressOf(handle)).totals).toMatchObject({ running: 1, pending: 1 });
    gate.release('d');
    gate.release('e');
    await handle.result();
  });
});

test('cancelStep stops one running step (its executor sees the abort) and keeps a pending one from starting', async () => {
  const { gate, executor, started } = gatedExecutor();
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('cancel-step'),
      args: [{ specs: ['a', 'b', 'c', 'd'].map((id) => spec(id)), concurrency: 2 }],
    });
    await eventually(async () => (started.length === 2 ? true : undefined));
    expect(await cancelStep(handle, 'a')).toEqual({ taskId: 'a', was: 'running' });
    expect(await cancelStep(handle, 'd')).toEqual({ taskId: 'd', was: 'pending' });
    await untilIn(gate.aborted, 'a');
    gate.release('b');
    gate.release('c');
    const result: StepOutcome[] = await handle.result();
    expect(result.map((o) => [o.taskId, o.success, o.output])).toEqual([
      ['a', false, 'cancelled by user'],
      ['b', true, 'do b'],
      ['c', true, 'do c'],
      ['d', false, 'cancelled by user'],
    ]);
    expect([...started].sort()).toEqual(['a', 'b', 'c']);
  });
});

test('one lane in turn: a step is cancelled alone, the lane goes on in a fresh scope, and a workflow cancel still works', async () => {
  const gated = gatedExecutor();
  const { gate, executor, started } = gated;
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('reused-scope'),
      args: [
        {
          specs: ['a', 'b', 'c', 'd'].map((id) => spec(id)),
          concurrency: 1,
          stepPolicy: { heartbeatTimeoutMs: 1_000 },
        },
      ],
    });
    await eventually(async () => (started.length === 1 ? true : undefined));
    gate.release('a');
    // `b` runs in its lane's scope, as `a` did.
    await cancelWhileRunning(handle, gated, 'b');
    gate.release('c');
    await untilIn(started, 'd');
    // `d` runs in the lane's fresh scope, as `c` did; cancelling the workflow reaches it too.
    await handle.cancel();
    await untilIn(gate.aborted, 'd');
    const failure = await handle.result().catch((error: unknown) => error);
    expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    expect(gate.aborted).toEqual(['b', 'd']);
  });
});

test('a pipeline, one lane: a cancelled stage ends its item, and the next item runs whole', async () => {
  const gated = gatedExecutor();
  const { gate, executor, started } = gated;
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('pipelineWorkflow', {
      taskQueue,
      workflowId: uniqueId('cancel-stage'),
      args: [
        {
          items: ['x', 'y'],
          stages: ['first', 'second'].map((stage) => spec(`${stage}-{{index}}`)),
          concurrency: 1,
          stepPolicy: { heartbeatTimeoutMs: 1_000 },
        },
      ],
    });
    await eventually(async () => (started.length === 1 ? true : undefined));
    gate.release('first-0');
    await cancelWhileRunning(handle, gated, 'second-0');
    gate.release('first-1');
    gate.release('second-1');
    const result: (StepOutcome | null)[] = await handle.result();
    expect(result.map((o) => [o?.taskId, o?.success, o?.output])).toEqual([
      ['second-0', false, 'cancelled by user'],
      ['second-1', true, 'do second-1'],
    ]);
    expect(started).toEqual(['first-0', 'second-0', 'first-1', 'second-1']);
  });
});

test('a budgeted run: a running step is cancelled alone, and its lane goes on', async () => {
  const gated = gatedExecutor();
  const { gate, executor, started } = gated;
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('cancel-budgeted'),
      args: [
        {
          specs: ['a', 'b'].map((id) => spec(id)),
          concurrency: 1,
          budget: { maxSteps: 5 },
          stepPolicy: { heartbeatTimeoutMs: 1_000 },
        },
      ],
    });
    await cancelWhileRunning(handle, gated, 'a');
    gate.release('b');
    const result: StepOutcome[] = await handle.result();
    expect(result.map((o) => [o.taskId, o.success, o.output])).toEqual([
      ['a', false, 'cancelled by user'],
      ['b', true, 'do b'],
    ]);
    expect(started).toEqual(['a', 'b']);
  });
});

test('refusals name the problem: an unknown step, a finished one, a bad limit, a closed run', async () => {
  const { gate, executor, started } = gatedExecutor();
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const workflowId = uniqueId('refusals');
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId,
      args: [{ specs: [spec('a'), spec('b')], concurrency: 1 }],
    });
    await eventually(async () => (started.length === 1 ? true : undefined));
    gate.release('a');
    await eventually(async () => ((await statusOf(handle, 'a')) === 'succeeded' ? true : undefined));

    await expect(cancelStep(handle, 'nope')).rejects.toThrow(`${workflowId}: no step "nope" in this run`);
    await expect(cancelStep(handle, 'a')).rejects.toThrow(
      `${workflowId}: step "a" is succeeded, not pending or running; nothing to cancel`,
    );
    await expect(setRunConcurrency(handle, 0)).rejects.toThrow(
      `${workflowId}: setConcurrency needs { "limit": <a whole number ≥ 1> }, got {"limit":0}`,
    );
    gate.release('b');
    await handle.result();
    await expect(pauseRun(handle)).rejects.toThrow(
      `${workflowId} is COMPLETED, not running; nothing to pause`,
    );
    // Refused updates leave nothing in history.
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(0);
  });
});

test('the same updates work from the Temporal CLI', async () => {
  const { gate, executor, started } = gatedExecutor();
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const workflowId = uniqueId('cli-steer');
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId,
      args: [{ specs: [spec('a'), spec('b')], concurrency: 1 }],
    });
    await eventually(async () => (started.length === 1 ? true : undefined));
    expect(await updateFromCli(workflowId, 'pause')).toEqual({ paused: true });
    expect(await updateFromCli(workflowId, 'cancelStep', { taskId: 'b' })).toEqual({
      taskId: 'b',
      was: 'pending',
    });
    expect(await updateFromCli(workflowId, 'resume')).toEqual({ paused: false });
    gate.release('a');
    const result: StepOutcome[] = await handle.result();
    expect(result.map((o) => o.output)).toEqual(['do a', 'cancelled by user']);
  });
});

test('a run split into child workflows: pause, resume and a new limit reach its children; a step is cancelled in its child', async () => {
  const { gate, executor, started } = gatedExecutor();
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('split-steer'),
      args: [
        { specs: ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => spec(id)), concurrency: 2, maxStepsPerRun: 3 },
      ],
    });
    // Two children of three steps, one step at a time each.
    await eventually(async () => (started.length === 2 ? true : undefined));
    expect([...started].sort()).toEqual(['a', 'd']);
    expect(await pauseRun(handle)).toEqual({ paused: true });
    const children = (await progressOf(handle)).partitions!.map((p) =>
      client.workflow.getHandle(p.workflowId),
    );
    await eventually(async () => {
      const states = await Promise.all(children.map(progressOf));
      return states.every((state) => state.paused) ? true : undefined;
    });
    gate.release('a');
    gate.release('d');
    await eventually(async () => {
      const states = await Promise.all(children.map(progressOf));
      return states.every((state) => state.totals.succeeded === 1) ? true : undefined;
    });
    expect([...started].sort()).toEqual(['a', 'd']);
    for (const child of children) {
      expect(await progressOf(child)).toMatchObject({ paused: true, totals: { running: 0, pending: 2 } });
    }

    // A limit of 4 gives each child 2: resuming starts all four remaining steps at once.
    expect(await setRunConcurrency(handle, 4)).toEqual({ paused: true, concurrency: 4 });
    expect(await resumeRun(handle)).toEqual({ paused: false, concurrency: 4 });
    await eventually(async () => (started.length === 6 ? true : undefined));
    for (const child of children) {
      const progress = await progressOf(child);
      expect(progress).toMatchObject({ concurrency: 2, totals: { running: 2 } });
      expect(progress.paused).toBeFalsy();
    }

    // The parent finds the child that holds `f`; its validator still refuses what cannot be cancelled.
    expect(await cancelStep(handle, 'f')).toEqual({ taskId: 'f', was: 'running' });
    await expect(cancelStep(handle, 'a')).rejects.toThrow(
      `${children[0]!.workflowId}: step "a" is succeeded, not pending or running; nothing to cancel`,
    );
    await expect(cancelStep(handle, 'z')).rejects.toThrow(`${handle.workflowId}: no step "z" in this run`);
    await untilIn(gate.aborted, 'f');
    for (const id of ['b', 'c', 'e']) gate.release(id);
    const result: StepOutcome[] = await handle.result();
    expect(result.map((o) => [o.taskId, o.output])).toEqual([
      ['a', 'do a'],
      ['b', 'do b'],
      ['c', 'do c'],
      ['d', 'do d'],
      ['e', 'do e'],
      ['f', 'cancelled by user'],
    ]);
  });
});

test('a split run steered in quick succession leaves every child as the parent ends up', async () => {
  const { gate, executor, started } = gatedExecutor();
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('split-steer-burst'),
      args: [{ specs: ['a', 'b', 'c', 'd'].map((id) => spec(id)), concurrency: 2, maxStepsPerRun: 2 }],
    });
    await eventually(async () => (started.length === 2 ? true : undefined));
    // Each Update changes what every child must hear; signals in flight at once may land in any order.
    for (let round = 0; round < 3; round++) {
      await pauseRun(handle);
      await setRunConcurrency(handle, 2 + round * 2);
      await resumeRun(handle);
    }
    const children = (await progressOf(handle)).partitions!.map((p) =>
      client.workflow.getHandle(p.workflowId),
    );
    await eventually(async () => {
      const states = await Promise.all(children.map(progressOf));
      return states.every((state) => !state.paused && state.concurrency === 3) ? true : undefined;
    });
    for (const id of ['a', 'b', 'c', 'd']) gate.release(id);
    const result: StepOutcome[] = await handle.result();
    expect(result.map((o) => o.output)).toEqual(['do a', 'do b', 'do c', 'do d']);
  });
});
