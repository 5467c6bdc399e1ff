/**
 * `followStep` given a client ends when the step has ended without a final
 * transcript event: its attempt's writer died with it (a SIGKILL), and the
 * step failed for good (its retries ran out) or its run closed. Without the
 * client, nothing but that final event would end it.
 */
import { followStep } from '../../src/client';
import { ScriptExecutor } from '../../src/executors/script';
import type { StepEvent } from '../../src/transcripts/events';
import { spec } from '../support/specs';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

test('a follower ends once the run says the step is over, though no event said so', async () => {
  const executor = new ScriptExecutor({ tasks: { boom: { throw: 'out of retries' } } });
  await withWorker({ executor }, async ({ client, taskQueue, store }) => {
    const workflowId = uniqueId('follow-ended');
    // `gate` waits for a decision, so the run stays open after `boom` failed.
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId,
      args: [{ specs: [spec('boom'), { ...spec('gate'), approval: { before: true } }] }],
    });
    // What a killed attempt leaves: its start, never its end.
    const started = { kind: 'attempt-start', attempt: 1, timeMs: Date.now() } as const;
    await store.transcripts!.appendTranscript({ workflowId, taskId: 'boom' }, [started]);
    await store.transcripts!.appendTranscript({ workflowId, taskId: 'gate' }, [started]);

    const follow = async (taskId: string) => {
      const seen: StepEvent[] = [];
      let over = false;
      const began = Date.now();
      for await (const event of followStep(store, workflowId, taskId, {
        pollMs: 50,
        client,
        livenessMs: 200,
        onStepOver: () => (over = true),
      }))
        seen.push(event);
      return { kinds: seen.map((e) => e.kind), over, ms: Date.now() - began };
    };

    // The run is open; the step failed.
    const boom = await follow('boom');
    expect(boom).toMatchObject({ kinds: ['attempt-start'], over: true });
    expect(boom.ms).toBeLessThan(10_000);

    // The run closed while its step waited.
    const gate = follow('gate');
    await handle.terminate('test: the run closes under a waiting step');
    await expect(gate).resolves.toMatchObject({ kinds: ['attempt-start'], over: true });
  });
}, 60_000);
