/**
 * A step waiting for a slot holds no memory once granted. The SDK keeps every
 * unsettled promise a workflow makes, with its stack trace, until it settles
 * or the execution ends; a wait that left a never-settling handler behind
 * (one per queued step, before) made a batch execution's memory grow with
 * every step it ran.
 */
import { ScriptExecutor } from '../../src/executors/script';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

test('waits queued for one slot and granted leave no promise behind: as many kept after 2,000 as after 20', async () => {
  await withWorker({ executor: new ScriptExecutor({}) }, async ({ client, taskQueue }) => {
    const left = async (waits: number) => {
      const { before, after } = await client.workflow.execute('queuedWaitsWorkflow', {
        taskQueue,
        workflowId: uniqueId('queued-waits'),
        args: [waits],
      });
      expect(before).toBeGreaterThan(0);
      return after - before;
    };
    const few = await left(20);
    expect(await left(2_000)).toBe(few);
    // The scope the waits queued in listens for its cancellation once; the rest is the run's own few promises.
    expect(few).toBeLessThan(20);
  });
});
