/**
 * A run whose concurrency hint (a local activity) outlived its first workflow
 * task, so the answer and everything after it landed in later tasks, replays.
 * Where a local activity's answer lands differs between a live run and its
 * replay; nothing a workflow records may depend on it. (The exact race, a local
 * activity that answers while its task completes, cannot be forced from a
 * test; this covers the path around it.)
 */
import { Worker } from '@temporalio/worker';
import { ScriptExecutor } from '../../src/executors/script';
import { closeDevClient, uniqueId, withWorker, workflowBundle } from '../support/temporal';

afterAll(closeDevClient);

/**
 * Executor info (the concurrency hint the worker fixed at its start, and the
 * agents' caches, asked anew) that takes longer than the workflow task may:
 * the local activity then heartbeats into a new task.
 */
class SlowHintExecutor extends ScriptExecutor {
  override agentCaches() {
    const until = Date.now() + 1_500;
    while (Date.now() < until) {
      // The local activity's answer is synchronous; only a busy wait holds it back.
    }
    return super.agentCaches();
  }
}

test.each([
  ['parallelWorkflow', { specs: [{ taskId: 'a', agent: 'explore', prompt: 'a' }] }],
  ['pipelineWorkflow', { items: [1], stages: [{ taskId: 's{{index}}', agent: 'explore', prompt: 'p' }] }],
  ['loopWorkflow', { initial: [{ taskId: 'a', agent: 'explore', prompt: 'a' }], maxIterations: 1 }],
])('%s replays when its concurrency hint arrived in a later workflow task', async (workflowType, input) => {
  await withWorker({ executor: new SlowHintExecutor() }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start(workflowType, {
      taskQueue,
      workflowId: uniqueId('patch-placement'),
      args: [input],
      workflowTaskTimeout: '1 second',
    });
    await handle.result();
    const history = await handle.fetchHistory();
    const tasks = history.events!.filter((e) => e.workflowTaskCompletedEventAttributes).length;
    expect(tasks).toBeGreaterThan(2); // the hint really came back in a task of its own
    await expect(
      Worker.runReplayHistory({ workflowBundle: workflowBundle() }, history, handle.workflowId),
    ).resolves.toBeUndefined();
  });
});
