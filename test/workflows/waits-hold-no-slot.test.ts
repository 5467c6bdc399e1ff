/**
 * `concurrency` limits activities in flight, not steps: a step waiting for a
 * person holds no slot. So every waiting step is in the inbox at once, however
 * low the limit, and steps that need no decision run while others wait.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { approveStep, pendingDecisions } from '../../src/client';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import type { Progress } from '../../src/workflows/lib';
import { eventually } from '../support/gate-executor';
import { RecordingExecutor } from '../support/recording-executor';
import { spec } from '../support/specs';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';
import { updateFromCli } from '../support/temporal-cli';

afterAll(closeDevClient);

const gated = (taskId: string) => ({ ...spec(taskId), approval: { before: true } });

/** The most step activities scheduled and not yet closed at any point of the history. */
function peakInFlight(events: temporal.api.history.v1.IHistoryEvent[]): number {
  let open = 0;
  let peak = 0;
  for (const e of events) {
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'executeAgentStep')
      peak = Math.max(peak, ++open);
    if (
      e.activityTaskCompletedEventAttributes ||
      e.activityTaskFailedEventAttributes ||
      e.activityTaskTimedOutEventAttributes ||
      e.activityTaskCanceledEventAttributes
    )
      open -= 1;
  }
  return peak;
}

const waitingIn = async (handle: WorkflowHandle) =>
  (await handle.query<Progress>('progress')).steps.filter((s) => s.status === 'waiting').length;

test('1,000 gated steps at concurrency 10 all wait in the inbox at once; approved, at most 10 run at a time', async () => {
  const executor = new RecordingExecutor(new ScriptExecutor({ default: { delayMs: 20 } }));
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const ids = Array.from({ length: 1_000 }, (_, i) => `g${i}`);
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('gated-1000'),
      args: [{ specs: ids.map(gated), concurrency: 10 }],
    });
    await eventually(async () => ((await waitingIn(handle)) === 1_000 ? true : undefined));
    const { pending } = await pendingDecisions(client, { query: `WorkflowId = "${handle.workflowId}"` });
    expect(pending.map((p) => p.taskId).sort()).toEqual([...ids].sort());

    // Two through the Temporal CLI, the rest through the client library the CLI uses, ten at a time as a
    // person's batch approval would send them.
    for (const taskId of ids.slice(0, 2)) {
      expect(await updateFromCli(handle.workflowId, 'approve', { taskId })).toEqual({
        taskId,
        decided: 'approved',
      });
    }
    for (let i = 2; i < ids.length; i += 10) {
      await Promise.all(ids.slice(i, i + 10).map((taskId) => approveStep(handle, { taskId })));
    }
    const result: StepOutcome[] = await handle.result();
    expect(result.every((o) => o.success)).toBe(true);
    expect(executor.started).toHaveLength(1_000);
    expect(peakInFlight((await handle.fetchHistory()).events ?? [])).toBe(10);
  });
}, 300_000);

test('10 gated and 90 ungated steps at concurrency 10: the 90 finish while the 10 wait', async () => {
  const executor = new RecordingExecutor(new ScriptExecutor({}));
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const specs = [
      ...Array.from({ length: 10 }, (_, i) => gated(`wait-${i}`)),
      ...Array.from({ length: 90 }, (_, i) => spec(`free-${i}`)),
    ];
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('gated-10-of-100'),
      args: [{ specs, concurrency: 10 }],
    });
    const progress = await eventually(async () => {
      const now = await handle.query<Progress>('progress');
      return now.totals.succeeded === 90 ? now : undefined;
    });
    expect(progress.totals).toMatchObject({ waiting: 10, succeeded: 90, running: 0, pending: 0 });
    expect(executor.started.sort()).toEqual(
      specs
        .slice(10)
        .map((s) => s.taskId)
        .sort(),
    );
    for (let i = 0; i < 10; i++) await approveStep(handle, { taskId: `wait-${i}` });
    const result: StepOutcome[] = await handle.result();
    expect(result.map((o) => [o.taskId, o.success])).toEqual(specs.map((s) => [s.taskId, true]));
  });
}, 120_000);
