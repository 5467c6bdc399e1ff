/**
 * Steps that wait for a person, on real servers: decisions arrive as the
 * `approve` and `reject` Updates (through the client library and the
 * Temporal CLI) on the dev server; waits that time out run on the
 * time-skipping server, where three days pass in a moment.
 */
import { Client, type WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { approveStep, pendingDecisions, rejectStep } from '../../src/client';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { MemorySessionStore } from '../../src/stores/memory-store';
import { waitingPrompt } from '../../src/client/step-detail';
import { stepView } from '../../src/ui/api';
import type { Progress } from '../../src/workflows/lib';
import { waitingPromptQuery } from '../../src/workflows/lib/approvals';
import { eventually } from '../support/gate-executor';
import { RecordingExecutor } from '../support/recording-executor';
import { spec } from '../support/specs';
import { closeDevClient, devClient, uniqueId, withWorker, timeSkippingWorker } from '../support/temporal';
import { updateFromCli } from '../support/temporal-cli';

/** A pipeline of one item whose second stage waits for approval before it starts, its prompt rendered from the first's output. */
const GATED_SECOND_STAGE = {
  items: ['a.ts'],
  stages: [
    { taskId: 'plan-{{index}}', agent: 'plan', prompt: 'plan {{item}}' },
    {
      taskId: 'apply-{{index}}',
      agent: 'apply',
      prompt: 'apply <{{prev.output}}>',
      approval: { before: true },
    },
  ],
};
afterAll(closeDevClient);

const progressOf = (handle: WorkflowHandle) => handle.query<Progress>('progress');
const waiting = async (handle: WorkflowHandle, taskId: string) => {
  const step = (await progressOf(handle)).steps.find((s) => s.taskId === taskId);
  return step?.status === 'waiting' ? step : undefined;
};

describe('approval before a step starts', () => {
  test('the step waits, the rest run; approved, it runs; listed as pending meanwhile', async () => {
    const executor = new RecordingExecutor(new ScriptExecutor());
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const workflowId = uniqueId('approve-before');
      const handle = await client.workflow.start('parallelWorkflow', {
        taskQueue,
        workflowId,
        args: [{ specs: [{ ...spec('deploy'), approval: { before: true } }, spec('test')] }],
      });
      expect(await eventually(() => waiting(handle, 'deploy'))).toMatchObject({ decision: 'before' });
      await eventually(async () => ((await progressOf(handle)).totals.succeeded === 1 ? true : undefined));
      expect(executor.started).toEqual(['test']);
      const listed = await eventually(async () => {
        const { pending } = await pendingDecisions(client);
        const ours = pending.filter((p) => p.workflowId === workflowId);
        return ours.length ? ours : undefined;
      });
      expect(listed).toEqual([{ workflowId, taskId: 'deploy', agent: 'explore', decision: 'before' }]);

      expect(await approveStep(handle, { taskId: 'deploy', comment: 'go' })).toEqual({
        taskId: 'deploy',
        decided: 'approved',
      });
      const result: StepOutcome[] = await handle.result();
      expect(result.map((o) => [o.taskId, o.success, o.output])).toEqual([
        ['deploy', true, 'do deploy'],
        ['test', true, 'do test'],
      ]);
    });
  });

  test('rejected, it never runs and ends failed with the comment; from the Temporal CLI too', async () => {
    const executor = new RecordingExecutor(new ScriptExecutor());
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const workflowId = uniqueId('reject-before');
      const handle = await client.workflow.start('parallelWorkflow', {
        taskQueue,
        workflowId,
        args: [{ specs: ['a', 'b'].map((id) => ({ ...spec(id), approval: { before: true } })) }],
      });
      await eventually(() => waiting(handle, 'b'));
      await rejectStep(handle, { taskId: 'a', comment: 'not during the freeze' });
      expect(await updateFromCli(workflowId, 'approve', { taskId: 'b' })).toEqual({
        taskId: 'b',
        decided: 'approved',
      });
      const result: StepOutcome[] = await handle.result();
      expect(result.map((o) => [o.taskId, o.success, o.output])).toEqual([
        ['a', false, 'rejected before it started: not during the freeze'],
        ['b', true, 'do b'],
      ]);
      expect(executor.started).toEqual(['b']);
    });
  });
  test("a pipeline's later stage waiting to start shows its rendered prompt, which history does not hold yet", async () => {
    await withWorker({ executor: new ScriptExecutor() }, async ({ client, taskQueue }) => {
      const workflowId = uniqueId('approve-before-stage');
      const handle = await client.workflow.start('pipelineWorkflow', {
        taskQueue,
        workflowId,
        args: [GATED_SECOND_STAGE],
      });
      await eventually(() => waiting(handle, 'apply-0'));
      // The run is listed once visibility has its waiting-steps attribute.
      const pending = await eventually(async () => {
        const listed = await pendingDecisions(client, {
          query: `WorkflowId = "${workflowId}"`,
          withText: true,
        });
        return listed.pending.length > 0 ? listed.pending : undefined;
      });
      expect(pending).toEqual([
        { workflowId, taskId: 'apply-0', agent: 'apply', decision: 'before', text: 'apply <plan a.ts>' },
      ]);
      // The web page's step view too, where the history has no event of the step yet.
      await expect(stepView(client, workflowId, 'apply-0')).resolves.toEqual({
        taskId: 'apply-0',
        prompt: 'apply <plan a.ts>',
      });
      // Nothing else answers it: no step waits under another id.
      await expect(handle.query(waitingPromptQuery, 'plan-0')).resolves.toBeNull();
      await approveStep(handle, { taskId: 'apply-0' });
      const result: StepOutcome[] = await handle.result();
      expect(result.map((o) => o.output)).toEqual(['apply <plan a.ts>']);
    });
  });
});

test("the inbox reads a parallel run's waiting prompts from its start in one read, and asks a pipeline's stage for its own", async () => {
  await withWorker({ executor: new ScriptExecutor() }, async ({ client: plain, taskQueue }) => {
    // Every query the inbox makes, by name.
    const asked: string[] = [];
    const client = new Client({
      connection: plain.connection,
      namespace: plain.options.namespace,
      interceptors: { workflow: [{ query: (input, next) => (asked.push(input.queryType), next(input)) }] },
    });
    const ids = Array.from({ length: 300 }, (_, i) => `g${i}`);
    const parallel = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('inbox-prompts'),
      args: [{ specs: ids.map((id) => ({ ...spec(id), approval: { before: true } })), concurrency: 10 }],
    });
    const pipeline = await client.workflow.start('pipelineWorkflow', {
      taskQueue,
      workflowId: uniqueId('inbox-stage'),
      args: [GATED_SECOND_STAGE],
    });
    const query = `WorkflowId IN ("${parallel.workflowId}", "${pipeline.workflowId}")`;
    await eventually(async () =>
      (await pendingDecisions(client, { query })).pending.length === 301 ? true : undefined,
    );
    asked.length = 0;
    const { pending } = await pendingDecisions(client, { query, withText: true });
    expect(
      pending.filter((p) => p.workflowId === parallel.workflowId).map((p) => [p.taskId, p.text]),
    ).toEqual(ids.map((id) => [id, `do ${id}`]).sort(([a], [b]) => (a! < b! ? -1 : 1)));
    expect(pending.find((p) => p.workflowId === pipeline.workflowId)).toMatchObject({
      taskId: 'apply-0',
      text: 'apply <plan a.ts>',
    });
    // Each run's progress, and the pipeline's rendered stage: none of the 300 parallel steps was asked.
    expect(asked.sort()).toEqual(['progress', 'progress', 'waitingPrompt']);
    await Promise.all([parallel.terminate('test done'), pipeline.terminate('test done')]);
  });
}, 120_000);

describe('approval after a step ran', () => {
  test("a pipeline's next stage sees the outcome only once approved, with the person's edit", async () => {
    const executor = new RecordingExecutor(new ScriptExecutor());
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('pipelineWorkflow', {
        taskQueue,
        workflowId: uniqueId('approve-after'),
        args: [
          {
            items: [{ path: 'a.ts' }],
            stages: [
              { taskId: 'plan', agent: 'plan', prompt: 'plan {{item.path}}', approval: { after: true } },
              { taskId: 'fix', agent: 'general', prompt: 'carry out: {{prev.output}}' },
            ],
          },
        ],
      });
      expect(await eventually(() => waiting(handle, 'plan'))).toMatchObject({ decision: 'after' });
      expect(executor.started).toEqual(['plan']);
      await approveStep(handle, { taskId: 'plan', output: 'plan a.ts, but keep the public API' });
      // Per item, the chain's last outcome: the fix, built on the edited plan.
      const [fix] = (await handle.result()) as StepOutcome[];
      expect(fix).toMatchObject({ taskId: 'fix', output: 'carry out: plan a.ts, but keep the public API' });
      expect(executor.started).toEqual(['plan', 'fix']);
    });
  });

  test('a resumable run journals the outcome only once approved; rejected, it is not journaled', async () => {
    const store = new MemorySessionStore();
    const executor = new RecordingExecutor(
      new ScriptExecutor({ tasks: { red: { success: false, output: 'red' } } }),
    );
    await withWorker({ executor, store }, async ({ client, taskQueue }) => {
      const checkpointId = uniqueId('cp-approval');
      const after = { after: true };
      const handle = await client.workflow.start('resumableParallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('approve-journal'),
        args: [
          {
            checkpointId,
            specs: [
              { ...spec('kept'), approval: after },
              { ...spec('dropped'), approval: after },
              spec('red'),
            ],
          },
        ],
      });
      await eventually(() => waiting(handle, 'kept'));
      await eventually(() => waiting(handle, 'dropped'));
      expect(await store.load(checkpointId)).toBeUndefined();
      await approveStep(handle, { taskId: 'kept' });
      await rejectStep(handle, { taskId: 'dropped', comment: 'wrong file' });
      const result: StepOutcome[] = await handle.result();
      expect(result.map((o) => [o.taskId, o.success, o.error])).toEqual([
        ['kept', true, undefined],
        ['dropped', false, 'rejected after it ran: wrong file'],
        ['red', false, 'red'],
      ]);
      expect(result[1]!.output).toBe('do dropped'); // what was rejected stays visible
      expect((await store.load(checkpointId))!.steps.map((s) => s.taskId)).toEqual(['kept']);
    });
  });
});

test('decisions that cannot apply are refused by the validator, naming the step', async () => {
  const executor = new RecordingExecutor(new ScriptExecutor());
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const workflowId = uniqueId('approve-refused');
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId,
      args: [{ specs: [{ ...spec('gated'), approval: { before: true } }, spec('free')] }],
    });
    await eventually(() => waiting(handle, 'gated'));
    await eventually(async () => ((await progressOf(handle)).totals.succeeded === 1 ? true : undefined));
    await expect(approveStep(handle, { taskId: 'ghost' })).rejects.toThrow(
      `${workflowId}: no step "ghost" in this run`,
    );
    await expect(rejectStep(handle, { taskId: 'free' })).rejects.toThrow(
      `${workflowId}: step "free" is succeeded, not waiting for a decision`,
    );
    await approveStep(handle, { taskId: 'gated' });
    await handle.result();
    const events = (await handle.fetchHistory()).events ?? [];
    // One accepted decision; the refused ones left nothing.
    expect(events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(1);
  });
});

describe('waits that time out (time-skipping server)', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: process.env.TEMPORAL_TEST_SERVER_PATH! } },
    });
  });
  afterAll(() => env?.teardown());

  test.each([
    ['approve', true, 'do deploy'],
    ['reject', false, 'rejected before it started: no decision in time'],
    [undefined, false, 'rejected before it started: no decision in time'],
  ] as const)('three days without a decision: onTimeout %s', async (onTimeout, success, output) => {
    const executor = new RecordingExecutor(new ScriptExecutor());
    const { worker, taskQueue } = await timeSkippingWorker(env, executor, 'approval-timeout');
    const approval = { before: true, timeoutMs: 3 * 24 * 3_600_000, ...(onTimeout ? { onTimeout } : {}) };
    const [outcome] = await worker.runUntil(
      env.client.workflow.execute('parallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('approval-timeout'),
        args: [{ specs: [{ ...spec('deploy'), approval }] }],
      }) as Promise<StepOutcome[]>,
    );
    expect(outcome).toMatchObject({ success, output });
    expect(executor.started).toEqual(success ? ['deploy'] : []);
  });
});

test("a waiting step's prompt is read within a deadline: a run no worker answers reads as none, not a stalled inbox", async () => {
  const client = await devClient();
  // A task queue nobody polls: the run's worker is gone, as a worker stopped between the inbox's reads.
  const handle = await client.workflow.start('parallelWorkflow', {
    taskQueue: uniqueId('nobody'),
    workflowId: uniqueId('no-worker'),
    args: [{ specs: [{ ...spec('plan'), approval: { before: true } }] }],
  });
  try {
    await expect(waitingPrompt(handle, 'plan', 500)).resolves.toBeUndefined();
  } finally {
    await handle.terminate();
  }
  // Unbounded, the read waited for the server's own 30 s query timeout: the UI test's inbox stalled so once in CI.
}, 15_000);
