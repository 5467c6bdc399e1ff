/**
 * Live output of a running step: what the executor publishes travels in the
 * activity's heartbeat details, so the programmatic client, `tao status`
 * (plain and `--follow`) and the Temporal CLI's `workflow describe` all see
 * it while the step runs, with no history event added.
 */
import { runningSteps } from '../../src/client';
import { startTao, stopTaoProcesses, tao } from '../support/cli';
import { eventually } from '../support/gate-executor';
import { TalkingExecutor } from '../support/talking-executor';
import { temporalCli } from '../support/temporal-cli';
import { closeDevClient, devServerAddress, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);
afterAll(stopTaoProcesses);

test('the tail of a slow step shows in the client, tao status (and --follow) and temporal workflow describe', async () => {
  const talker = new TalkingExecutor(250);
  await withWorker({ executor: talker }, async ({ client, taskQueue }) => {
    const workflowId = uniqueId('live-output');
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId,
      args: [{ specs: [{ taskId: 'talker', agent: 'explore', prompt: 'talk' }] }],
    });

    const seen = await eventually(async () => {
      const [step] = await runningSteps(handle);
      return step?.output?.includes('line 3') ? step : undefined;
    });
    expect(seen).toMatchObject({ taskId: 'talker', attempt: 1 });
    expect(seen.output).toMatch(/^line 1\nline 2\nline 3\n/);

    const describe = await temporalCli(['workflow', 'describe', '--workflow-id', workflowId]);
    expect(describe.code).toBe(0);
    expect(describe.stdout).toMatch(/line 1\\nline 2\\nline 3/);

    const status = await tao(['status', workflowId, '--address', devServerAddress()]);
    expect(status.stdout).toMatch(/^talker \(attempt 1\) │ line \d+$/m);

    const follow = startTao(['status', workflowId, '--follow', '--address', devServerAddress()]);
    await follow.waitFor(/(^talker │ line \d+$[^]*){4}/m, 60_000);
    talker.release();
    await follow.waitFor('COMPLETED', 60_000);
    const followed = [...follow.output().matchAll(/^talker │ line (\d+)$/gm)].map((m) => Number(m[1]));
    expect(followed.length).toBeGreaterThan(3);
    expect(followed).toEqual([...followed].sort((a, b) => a - b));

    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toHaveLength(1);
  });
});
