/**
 * Live output of a running step: what the executor publishes travels in the
 * activity's heartbeat details, so the programmatic client, `tao status`
 * (plain and `--follow`) and the Temporal CLI's `workflow describe` all see
 * it while the step runs, with no history event added.
 */
import type { AgentStepSpec, StepOutcome } from '../../src/contracts';
import type { AgentExecutor, StepContext } from '../../src/executors/executor';
import { runningSteps } from '../../src/client';
import { startTao, stopTaoProcesses, tao } from '../support/cli';
import { eventually } from '../support/gate-executor';
import { temporalCli } from '../support/temporal-cli';
import { closeDevClient, devServerAddress, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);
afterAll(stopTaoProcesses);

/**
 * Says `line 1`, `line 2`, ... one every `everyMs`, publishing its output so
 * far each time, until released: the test decides when the step ends, so a
 * slow machine cannot end it before a follower has seen it talk.
 */
class TalkingExecutor implements AgentExecutor {
  private released = false;

  constructor(private readonly everyMs: number) {}

  release(): void {
    this.released = true;
  }

  concurrencyHint(): number {
    return 2;
  }

  async executeStep(spec: AgentStepSpec, context: StepContext): Promise<StepOutcome> {
    let text = '';
    for (let i = 1; !this.released; i++) {
      await new Promise((resolve) => setTimeout(resolve, this.everyMs));
      text += `line ${i}\n`;
      context.output(text);
    }
    return { taskId: spec.taskId, agent: spec.agent, sessionId: spec.taskId, output: text, success: true };
  }
}

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
