/**
 * Readable in the Web UI: every agent step's activity carries a one-line
 * summary (`<taskId> · <agent>`), and runs started through the client carry
 * a static summary of their shape, read back here from the server and from
 * the Temporal CLI.
 */
import { type Payload, defaultPayloadConverter } from '@temporalio/common';
import { startRun } from '../../src/client';
import { ScriptExecutor } from '../../src/executors/script';
import { temporalJson } from '../support/temporal-cli';
import { closeDevClient, withWorker } from '../support/temporal';

afterAll(closeDevClient);

test('step summaries in history, a run summary on the execution', async () => {
  await withWorker({ executor: new ScriptExecutor({}) }, async ({ client, taskQueue }) => {
    const handle = await startRun(
      client,
      {
        workflow: 'pipeline',
        input: {
          items: [{ path: 'src/a.ts' }, { path: 'src/b.ts' }],
          stages: [
            { taskId: 'explore:{{item.path}}', agent: 'explore', prompt: 'read {{item.path}}' },
            { taskId: 'review:{{item.path}}', agent: 'review', prompt: 'review {{item.path}}' },
          ],
        },
      },
      { taskQueue },
    );
    await handle.result();

    const events = (await handle.fetchHistory()).events ?? [];
    const summaries = events
      .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'executeAgentStep')
      .map((e) => defaultPayloadConverter.fromPayload<string>(e.userMetadata!.summary as Payload))
      .sort();
    expect(summaries).toEqual([
      'explore:src/a.ts · explore',
      'explore:src/b.ts · explore',
      'review:src/a.ts · review',
      'review:src/b.ts · review',
    ]);

    const description = await handle.describe();
    expect(await description.staticSummary()).toBe('pipeline · 2 items × 2 stages');
    const cli = await temporalJson<unknown>(['workflow', 'describe', '--workflow-id', handle.workflowId]);
    expect(JSON.stringify(cli)).toContain('pipeline · 2 items × 2 stages');
  });
});
