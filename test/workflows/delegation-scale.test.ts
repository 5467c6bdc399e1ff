/**
 * Delegation at the scale a user reaches: hundreds of agents, each handing 16
 * tasks to others. At a concurrency of 50: with 100 or more activities in
 * flight, the server may force-close a slow activation once more than 100
 * completions buffer behind it (the dev server's buffered-events batch), which
 * the run survives but which this test counts as a failed workflow task. Before the run's slots queued
 * waiters by priority and its executions sized themselves by history, 200
 * such leads had not finished in 300 s and 1,000 stalled, each activation
 * running past the workflow task timeout and the run replaying from the start.
 * Speed is `npm run bench -- --only delegation`'s business; this test holds
 * what must never happen: a failed or timed-out workflow task, a history past
 * 20,000 events, an activity count past the limit, a task lost or run twice.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { RecordingExecutor } from '../support/recording-executor';
import { spec } from '../support/specs';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const TASKS = 16;
const LEADS = 400;

const SCRIPT = {
  concurrency: 50,
  agents: {
    lead: {
      delegate: Array.from({ length: TASKS }, (_, k) => ({
        agent: 'explore',
        description: `part ${k}`,
        prompt: `part ${k}`,
      })),
      output: 'done:{{#results}} {{success}}{{/results}}',
    },
  },
};

/** Every execution of the run, first to last, following continue-as-new. */
async function executions(
  client: Client,
  handle: WorkflowHandle & { firstExecutionRunId: string },
): Promise<temporal.api.history.v1.IHistoryEvent[][]> {
  const histories = [];
  let runId: string | undefined = handle.firstExecutionRunId;
  while (runId) {
    const history: temporal.api.history.v1.IHistory = await client.workflow
      .getHandle(handle.workflowId, runId)
      .fetchHistory();
    const events = history.events ?? [];
    histories.push(events);
    runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return histories;
}

test(`${LEADS} leads × ${TASKS} delegated tasks at concurrency 50 complete, every execution's history bounded`, async () => {
  const executor = new RecordingExecutor(new ScriptExecutor(SCRIPT));
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const specs = Array.from({ length: LEADS }, (_, i) => ({ ...spec(`lead-${i}`), agent: 'lead' }));
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('delegation-scale'),
      args: [{ specs, concurrency: 50 }],
    });
    const result: StepOutcome[] = await handle.result();
    const allTrue = `done:${' true'.repeat(TASKS)}`;
    expect(result.map((o) => [o.taskId, o.success, o.output])).toEqual(
      specs.map((s) => [s.taskId, true, allTrue]),
    );
    // Each task ran once, and each lead twice: once to delegate, once to answer from its tasks.
    const started = executor.started;
    expect(started.filter((id) => id.includes('/task-'))).toHaveLength(LEADS * TASKS);
    expect(new Set(started).size).toBe(LEADS * (TASKS + 1));
    expect(executor.peak).toBeLessThanOrEqual(50);

    const histories = await executions(client, handle);
    // The run outgrew one execution's history and continued as new, rather than growing one history past its bound.
    expect(histories.length).toBeGreaterThan(1);
    for (const events of histories) {
      expect(events.length).toBeLessThan(20_000);
      expect(
        events.filter((e) => e.workflowTaskFailedEventAttributes || e.workflowTaskTimedOutEventAttributes),
      ).toEqual([]);
    }
  });
}, 600_000);
