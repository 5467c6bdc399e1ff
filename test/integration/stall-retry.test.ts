/**
 * Liveness proves progress: a model stream that hangs mid-answer fails its
 * attempt once the worker's stall limit passes with no model chunk, long
 * before the llm attempt's 10-minute deadline and while the ticker still
 * beats, and the retry finishes the step. What is asserted is the retry and
 * the failure the server recorded for it, not how long anything took.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { STEP_ACTIVITY_TYPE } from '../../src/activity-api';
import type { StepOutcome } from '../../src/contracts';
import { openAiText, startFakeOpenAI } from '../support/fake-openai';
import { PROTOCOLS, fakeExecutor, llmSpec, makeWorkspace } from '../support/llm-harness';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const openai = PROTOCOLS.find((protocol) => protocol.type === 'openai')!;

test('a stream hung mid-answer is given up after the stall limit, and the retry succeeds', async () => {
  const server = await startFakeOpenAI();
  const { root } = makeWorkspace();
  try {
    // The role and the first piece of text, then nothing, the connection held open.
    server.reply({ ...openAiText('an answer that never ends'), hangAfterEvents: 2 }, openAiText('a = 1'));
    const executor = await fakeExecutor(openai, server, root);
    await withWorker({ executor, stallTimeoutMs: 2_000 }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('parallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('stall'),
        args: [{ specs: [llmSpec()] }],
      });
      const [outcome] = (await handle.result()) as StepOutcome[];
      expect(outcome).toMatchObject({ success: true, output: 'a = 1' });
      await server.abandonment(); // the stalled attempt hung up on the model
      expect(server.requests).toHaveLength(2);

      const { events } = await handle.fetchHistory();
      const scheduled = events!.find(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === STEP_ACTIVITY_TYPE,
      )!;
      const started = events!.find(
        (e) =>
          e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === String(scheduled.eventId),
      )!.activityTaskStartedEventAttributes!;
      expect(started.attempt).toBe(2);
      expect(started.lastFailure?.applicationFailureInfo).toMatchObject({
        type: 'AgentStepError',
        nonRetryable: false,
      });
      expect(started.lastFailure?.message).toMatch(
        /^step "t1" \(agent explore\) stalled: no progress from its executor for 2(\.\d)? s \(last progress: output\), over the 2 s stall limit; the attempt is retried\. If the step is just slow, raise stallTimeoutMs: .*--stall-timeout-ms/,
      );
    });
  } finally {
    await server.close();
    rmSync(dirname(root), { recursive: true, force: true });
  }
});
