/**
 * Delegation at the scale a user reaches: hundreds of agents, each handing 16
 * tasks to others, at a concurrency of 100. The server force-closes an
 * activation once more than 100 events buffer behind it (two per activity
 * that ends meanwhile), so an execution keeps at most 50 activities in flight
 * and a run that asks for more is split across child executions. Before,
 * 100 in flight failed 4 to 7 activations per 1,700 steps; before the run's
 * slots queued waiters by priority and its executions sized themselves by
 * history, 200 such leads had not finished in 300 s and 1,000 stalled.
 * Speed is `npm run bench -- --only delegation`'s business; this test holds
 * what must never happen: a failed or timed-out workflow task, a history past
 * 20,000 events, an execution past the cap, a task lost or run twice.
 */
import type { StepOutcome } from '../../src/contracts';
import { type Payload, defaultPayloadConverter } from '@temporalio/common';
import { ScriptExecutor } from '../../src/executors/script';
import { MAX_ACTIVITIES_IN_FLIGHT } from '../../src/workflows/lib/slots';
import { everyExecution, peakActivitiesInFlight } from '../support/history';
import { RecordingExecutor } from '../support/recording-executor';
import { spec } from '../support/specs';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const TASKS = 16;
const LEADS = 400;

const SCRIPT = {
  concurrency: 100,
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

test(`${LEADS} leads × ${TASKS} delegated tasks at concurrency 100 complete, split across executions, none failing a task`, async () => {
  const executor = new RecordingExecutor(new ScriptExecutor(SCRIPT));
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const specs = Array.from({ length: LEADS }, (_, i) => ({ ...spec(`lead-${i}`), agent: 'lead' }));
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('delegation-scale'),
      args: [{ specs, concurrency: 100 }],
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
    expect(executor.peak).toBeLessThanOrEqual(100);

    const histories = await everyExecution(client, handle.workflowId, handle.firstExecutionRunId);
    // Concurrency 100 is more than one execution holds: two partitions, each with its share.
    const children = histories[0]!.flatMap((e) => {
      const payload = e.startChildWorkflowExecutionInitiatedEventAttributes?.input?.payloads?.[0];
      if (!payload) return [];
      const input = defaultPayloadConverter.fromPayload<{ specs: unknown[]; concurrency: number }>(
        payload as Payload,
      );
      return [[input.specs.length, input.concurrency]];
    });
    expect(children).toEqual([
      [200, 50],
      [200, 50],
    ]);
    for (const events of histories) {
      expect(events.length).toBeLessThan(20_000);
      expect(peakActivitiesInFlight(events)).toBeLessThanOrEqual(MAX_ACTIVITIES_IN_FLIGHT);
      expect(
        events.filter((e) => e.workflowTaskFailedEventAttributes || e.workflowTaskTimedOutEventAttributes),
      ).toEqual([]);
    }
  });
}, 600_000);
