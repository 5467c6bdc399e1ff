/** `tao rerun` as a user runs it: a real child process against the dev server, a worker in this process. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import type { Progress } from '../../src/workflows/lib';
import { tao } from '../support/cli';
import { GateExecutor, eventually, untilIn } from '../support/gate-executor';
import { RecordingExecutor } from '../support/recording-executor';
import { echoed } from '../support/specs';
import { closeDevClient, devServerAddress, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const dir = mkdtempSync(join(tmpdir(), 'tao-cli-rerun-'));
const server = () => ['--address', devServerAddress()];
const step = (taskId: string) => ({ taskId, agent: 'explore', prompt: `do ${taskId}` });

test('tao rerun of a cancelled run: --set from a file edits a step, the finished one is reused; status shows where it came from', async () => {
  const recording = new RecordingExecutor(new ScriptExecutor());
  const gate = new GateExecutor(recording, (taskId) => taskId === 'b');
  await withWorker({ executor: gate }, async ({ client, taskQueue }) => {
    const workflowId = uniqueId('cli-rerun');
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId,
      args: [{ specs: [step('a'), step('b')], stepPolicy: { heartbeatTimeoutMs: 1_000 } }],
    });
    await eventually(async () =>
      (await handle.query<Progress>('progress')).totals.succeeded === 1 ? true : undefined,
    );
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();
    // The cancelled run's `b` lets go of the gate before the rerun's may pass it.
    await untilIn(gate.aborted, 'b');
    gate.release('b');

    const prompt = join(dir, 'prompt.txt');
    writeFileSync(prompt, 'do b with care');
    const before = recording.started.length;
    const rerun = await tao(['rerun', workflowId, '--set', `b.prompt=@${prompt}`, '--json', ...server()]);
    expect(rerun.code).toBe(0);
    expect(JSON.parse(rerun.stdout) as StepOutcome[]).toEqual([
      echoed('a', 'do a'),
      echoed('b', 'do b with care'),
    ]);
    expect(recording.started.slice(before)).toEqual(['b']);
    const started =
      /^started (\S+), a rerun of (\S+) \(1 outcomes it may reuse\), on task queue (\S+)$/m.exec(
        rerun.stderr,
      );
    expect(started?.slice(2)).toEqual([workflowId, taskQueue]);
    expect(rerun.stderr).toContain(`1 reused from ${workflowId}`);

    const status = await tao(['status', started![1]!, ...server()]);
    expect(status.stdout).toMatch(new RegExp(`^rerun of +${workflowId}$`, 'm'));
    expect(status.stdout).toMatch(new RegExp(`│ a +│ a +│ explore +│ reused from ${workflowId} +│`));

    const wrong = await tao(['rerun', workflowId, '--set', 'b.prompt', ...server()]);
    expect(wrong).toMatchObject({ code: 2 });
    expect(wrong.stderr).toBe('tao: --set b.prompt: write it as <taskId>.<field>=<value> or =@<file>\n');
  });
});
