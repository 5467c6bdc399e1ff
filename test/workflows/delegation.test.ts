/**
 * Delegation through the workflow: a step that delegates tasks ends its
 * attempt, its children run as steps of the same run, and the step goes on
 * with their outcomes. The script executor's `delegate` rule stands in for an
 * llm agent's `task` tools (test/executors covers those against fake model servers).
 */
import type { WorkflowHandle } from '@temporalio/client';
import { type Payload, defaultPayloadConverter } from '@temporalio/common';
import { cancelStep, pauseRun, resumeRun } from '../../src/client';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor, type ScriptFile } from '../../src/executors/script';
import { MemorySessionStore } from '../../src/stores/memory-store';
import type { Progress } from '../../src/workflows/lib';
import { GateExecutor, eventually, untilIn } from '../support/gate-executor';
import { RecordingExecutor } from '../support/recording-executor';
import { spec } from '../support/specs';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const task = (agent: string, prompt: string) => ({ agent, description: prompt, prompt });

const SCRIPT: ScriptFile = {
  agents: {
    lead: {
      delegate: [task('explore', 'read a'), task('explore', 'read b'), task('review', 'check c')],
      output: 'lead saw:{{#results}} [{{taskId}} {{success}} {{output}}]{{/results}}',
    },
    // Delegates in turn: a tree two levels deep, the default bound.
    manager: { delegate: [task('lead', 'split it')] },
    review: { output: 'reviewed {{prompt}}' },
  },
};

const progressOf = (handle: WorkflowHandle) => handle.query<Progress>('progress');

function recorded(script: ScriptFile = SCRIPT, gated: (taskId: string) => boolean = () => false) {
  const gate = new GateExecutor(new ScriptExecutor(script), gated);
  return { gate, executor: new RecordingExecutor(gate) };
}

test('a parallel run: the children run as steps of the run, and the parent goes on with their outcomes', async () => {
  const { executor } = recorded();
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('delegate'),
      args: [{ specs: [{ ...spec('lead'), agent: 'lead' }, spec('solo')] }],
    });
    const result: StepOutcome[] = await handle.result();
    expect(result.map((o) => o.taskId)).toEqual(['lead', 'solo']);
    expect(result[0]!.output).toBe(
      'lead saw: [lead/task-1-1 true read a] [lead/task-1-2 true read b] [lead/task-1-3 true reviewed check c]',
    );
    // The parent's first attempt delegated, its second answered; each child ran once.
    expect(executor.started.filter((id) => id === 'lead')).toHaveLength(2);
    expect([...executor.started].sort()).toEqual(
      ['lead', 'lead', 'lead/task-1-1', 'lead/task-1-2', 'lead/task-1-3', 'solo'].sort(),
    );
    const progress = await progressOf(handle);
    expect(progress.steps.map((s) => [s.taskId, s.status, s.parentTaskId, s.depth])).toEqual([
      ['lead', 'succeeded', undefined, undefined],
      ['solo', 'succeeded', undefined, undefined],
      ['lead/task-1-1', 'succeeded', 'lead', 1],
      ['lead/task-1-2', 'succeeded', 'lead', 1],
      ['lead/task-1-3', 'succeeded', 'lead', 1],
    ]);
    // The Web UI names each attempt: the parent's resumed one says so.
    const history = await handle.fetchHistory();
    const summaries = history
      .events!.filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => defaultPayloadConverter.fromPayload<string>(e.userMetadata!.summary as Payload));
    expect([...summaries].sort()).toEqual(
      [
        'lead · lead',
        'solo · explore',
        'lead/task-1-1 · explore · task of lead',
        'lead/task-1-2 · explore · task of lead',
        'lead/task-1-3 · review · task of lead',
        'lead · lead (resumed after its tasks)',
      ].sort(),
    );
  });
});

test('a tree two levels deep, then no deeper: a grandchild at the bound answers instead of delegating', async () => {
  const script: ScriptFile = {
    agents: { ...SCRIPT.agents, explore: { delegate: [task('review', 'too deep')], output: 'explored' } },
  };
  const { executor } = recorded(script);
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const result: StepOutcome[] = await client.workflow.execute('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('delegate-deep'),
      args: [{ specs: [{ ...spec('boss'), agent: 'manager' }] }],
    });
    expect(result[0]!.output).toContain('boss/task-1-1: lead saw: [boss/task-1-1/task-1-1 true explored]');
    expect(executor.started).not.toContain('boss/task-1-1/task-1-1/task-1-1');
  });
});

test('a pipeline stage delegates; the next stage sees the parent’s final outcome', async () => {
  const { executor } = recorded();
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const result: (StepOutcome | null)[] = await client.workflow.execute('pipelineWorkflow', {
      taskQueue,
      workflowId: uniqueId('delegate-pipeline'),
      args: [
        {
          items: [{ name: 'x' }],
          stages: [
            { taskId: 'plan-{{item.name}}', agent: 'lead', prompt: 'plan' },
            { taskId: 'sum-{{item.name}}', agent: 'review', prompt: '{{prev.output}}' },
          ],
        },
      ],
    });
    expect(result[0]!.output).toMatch(/^reviewed lead saw: \[plan-x\/task-1-1 true read a\]/);
  });
});

test('cancelStep on one child: the parent hears "cancelled by user" for it and goes on', async () => {
  const { gate, executor } = recorded(SCRIPT, (id) => id === 'lead/task-1-2');
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('delegate-cancel-child'),
      args: [{ specs: [{ ...spec('lead'), agent: 'lead' }] }],
    });
    await untilIn(executor.started, 'lead/task-1-2');
    expect(await cancelStep(handle, 'lead/task-1-2')).toEqual({ taskId: 'lead/task-1-2', was: 'running' });
    await untilIn(gate.aborted, 'lead/task-1-2');
    const result: StepOutcome[] = await handle.result();
    expect(result[0]).toMatchObject({ success: true });
    expect(result[0]!.output).toContain('[lead/task-1-2 false cancelled by user]');
    expect(result[0]!.output).toContain('[lead/task-1-3 true reviewed check c]');
  });
});

test('cancelStep on the parent while its children run cancels them too', async () => {
  const { gate, executor } = recorded(SCRIPT, (id) => id.startsWith('lead/'));
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('delegate-cancel-parent'),
      args: [{ specs: [{ ...spec('lead'), agent: 'lead' }, spec('other')], concurrency: 4 }],
    });
    await eventually(async () =>
      executor.started.filter((id) => id.startsWith('lead/')).length === 3 ? true : undefined,
    );
    expect(await cancelStep(handle, 'lead')).toEqual({ taskId: 'lead', was: 'running' });
    await eventually(async () => (gate.aborted.length === 3 ? true : undefined));
    const result: StepOutcome[] = await handle.result();
    expect(result.map((o) => [o.taskId, o.success, o.output])).toEqual([
      ['lead', false, 'cancelled by user'],
      ['other', true, 'do other'],
    ]);
    // The parent's second attempt never ran.
    expect(executor.started.filter((id) => id === 'lead')).toHaveLength(1);
  });
});

test('every child counts against the budget; a refused child is a failed task the parent reads', async () => {
  const { executor } = recorded();
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('delegate-budget'),
      args: [{ specs: [{ ...spec('lead'), agent: 'lead' }], concurrency: 1, budget: { maxSteps: 3 } }],
    });
    const result: StepOutcome[] = await handle.result();
    expect(result[0]!.output).toBe(
      'lead saw: [lead/task-1-1 true read a] [lead/task-1-2 true read b] [lead/task-1-3 false budget exhausted (steps 3/3)]',
    );
    expect((await progressOf(handle)).budget?.spent.steps).toBe(3);
  });
});

test('a resumable run journals its children: a new execution serves them instead of running them again', async () => {
  const script: ScriptFile = {
    agents: { ...SCRIPT.agents, lead: { ...SCRIPT.agents!.lead, success: false } },
  };
  const { executor } = recorded(script);
  const store = new MemorySessionStore();
  await withWorker({ executor, store }, async ({ client, taskQueue }) => {
    const input = { checkpointId: uniqueId('delegate-journal'), specs: [{ ...spec('lead'), agent: 'lead' }] };
    const run = (n: number) =>
      client.workflow.start('resumableParallelWorkflow', {
        taskQueue,
        workflowId: `${input.checkpointId}-${n}`,
        args: [input],
      });
    const first = await run(1);
    expect((await first.result())[0]).toMatchObject({ success: false });
    const second = await run(2);
    const [outcome] = (await second.result()) as StepOutcome[];
    expect(outcome!.output).toContain('[lead/task-1-3 true reviewed check c]');
    // Each child ran once over both executions; the parent, which failed, ran (twice) in each.
    for (const child of ['lead/task-1-1', 'lead/task-1-2', 'lead/task-1-3'])
      expect(executor.started.filter((id) => id === child)).toHaveLength(1);
    expect(executor.started.filter((id) => id === 'lead')).toHaveLength(4);
    const children = (await progressOf(second)).steps.filter((s) => s.parentTaskId === 'lead');
    expect(children.map((s) => s.status)).toEqual(['cached', 'cached', 'cached']);
  });
});

test('a loop delegates in every round; a round reuses the ids of the last one', async () => {
  const { executor } = recorded();
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const result: StepOutcome[] = await client.workflow.execute('loopWorkflow', {
      taskQueue,
      workflowId: uniqueId('delegate-loop'),
      args: [
        {
          initial: [{ taskId: 'lead', agent: 'lead', prompt: 'round 1' }],
          next: { specs: [{ taskId: 'lead', agent: 'lead', prompt: 'round {{round}}' }] },
          maxIterations: 2,
        },
      ],
    });
    expect(result[0]!.output).toContain('[lead/task-1-1 true read a]');
    expect(executor.started.filter((id) => id === 'lead/task-1-1')).toHaveLength(2);
  });
});

test('a paused run starts none of the tasks a step delegates until it is resumed', async () => {
  const { gate, executor } = recorded(SCRIPT, (id) => id === 'lead');
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('delegate-pause'),
      args: [{ specs: [{ ...spec('lead'), agent: 'lead' }] }],
    });
    await untilIn(executor.started, 'lead');
    expect(await pauseRun(handle)).toEqual({ paused: true });
    gate.release('lead');
    // The lead's attempt ends with its tasks, which wait as pending while the run is paused.
    await eventually(async () => {
      const children = (await progressOf(handle)).steps.filter((s) => s.parentTaskId === 'lead');
      return children.length === 3 && children.every((s) => s.status === 'pending') ? true : undefined;
    });
    // The history holds the workflow's answer to the lead's completion (the workflow task after it):
    // the tasks would have been scheduled in that answer, and none was.
    const history = await eventually(async () => {
      const events = (await handle.fetchHistory()).events ?? [];
      const leadDone = events.findIndex((e) => e.activityTaskCompletedEventAttributes);
      const answered = events.findIndex((e, i) => i > leadDone && e.workflowTaskCompletedEventAttributes);
      return leadDone >= 0 && answered >= 0 ? events : undefined;
    });
    const scheduled = history
      .filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => defaultPayloadConverter.fromPayload<string>(e.userMetadata!.summary as Payload));
    expect(scheduled).toEqual(['lead · lead']);
    expect(executor.started.filter((id) => id.startsWith('lead/'))).toEqual([]);
    await resumeRun(handle);
    const result: StepOutcome[] = await handle.result();
    expect(result[0]!.output).toContain('[lead/task-1-3 true reviewed check c]');
  });
});

test("a call's tasks run within the run's concurrency", async () => {
  const { executor } = recorded({
    agents: { ...SCRIPT.agents, explore: { delayMs: 300 }, review: { delayMs: 300 } },
  });
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const result: StepOutcome[] = await client.workflow.execute('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('delegate-limit'),
      args: [{ specs: [{ ...spec('lead'), agent: 'lead' }], concurrency: 1 }],
    });
    expect(result[0]).toMatchObject({ success: true });
    // The lead's attempt had ended before its tasks started, so one at a time means one activity at a time.
    expect(executor.peak).toBe(1);
  });
});

test("several parents' tasks together stay within the run's concurrency", async () => {
  const { executor } = recorded({
    agents: { ...SCRIPT.agents, explore: { delayMs: 300 }, review: { delayMs: 300 } },
  });
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('delegate-limit-run'),
      args: [
        {
          specs: [
            { ...spec('lead-a'), agent: 'lead' },
            { ...spec('lead-b'), agent: 'lead' },
          ],
          concurrency: 2,
        },
      ],
    });
    const result: StepOutcome[] = await handle.result();
    expect(result.map((o) => o.success)).toEqual([true, true]);
    expect(executor.started.filter((id) => id.includes('/task-'))).toHaveLength(6);
    // Each parent's three tasks had the limit of 2 to themselves before: four at once.
    expect(executor.peak).toBe(2);
  });
});

test('cancelStep on a task still queued behind its siblings ends only it; the others run in order', async () => {
  // Concurrency 1: task-1-1 runs (held by the gate) while task-1-2 and task-1-3 queue, unbuilt.
  const { gate, executor } = recorded(SCRIPT, (id) => id === 'lead/task-1-1');
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('delegate-cancel-queued'),
      args: [{ specs: [{ ...spec('lead'), agent: 'lead' }], concurrency: 1 }],
    });
    await untilIn(executor.started, 'lead/task-1-1');
    // The last of the batch first, then the one at its head: both leave the queue at once.
    expect(await cancelStep(handle, 'lead/task-1-3')).toEqual({ taskId: 'lead/task-1-3', was: 'pending' });
    expect(await cancelStep(handle, 'lead/task-1-2')).toEqual({ taskId: 'lead/task-1-2', was: 'pending' });
    gate.release('lead/task-1-1');
    const result: StepOutcome[] = await handle.result();
    expect(result[0]!.output).toBe(
      'lead saw: [lead/task-1-1 true read a] [lead/task-1-2 false cancelled by user] [lead/task-1-3 false cancelled by user]',
    );
    expect(executor.started).toEqual(['lead', 'lead/task-1-1', 'lead']);
  });
});

test('cancelStep on the parent while its tasks queue settles every queued task as cancelled', async () => {
  const { gate, executor } = recorded(SCRIPT, (id) => id === 'lead/task-1-1');
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('delegate-cancel-parent-queued'),
      args: [{ specs: [{ ...spec('lead'), agent: 'lead' }, spec('other')], concurrency: 1 }],
    });
    await untilIn(executor.started, 'lead/task-1-1');
    expect(await cancelStep(handle, 'lead')).toEqual({ taskId: 'lead', was: 'running' });
    const result: StepOutcome[] = await handle.result();
    expect(result.map((o) => [o.taskId, o.success, o.output])).toEqual([
      ['lead', false, 'cancelled by user'],
      ['other', true, 'do other'],
    ]);
    await eventually(async () => (gate.aborted.length === 1 ? true : undefined));
    expect(gate.aborted).toEqual(['lead/task-1-1']);
    const children = (await progressOf(handle)).steps.filter((s) => s.parentTaskId === 'lead');
    expect(children.map((s) => [s.taskId, s.status])).toEqual([
      ['lead/task-1-1', 'failed'],
      ['lead/task-1-2', 'failed'],
      ['lead/task-1-3', 'failed'],
    ]);
    expect(executor.started).toEqual(['lead', 'lead/task-1-1', 'other']);
  });
});
