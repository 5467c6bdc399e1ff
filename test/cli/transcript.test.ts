/**
 * `tao transcript` as a user runs it: a real child process reading the file
 * store a worker on the dev server wrote an llm step's transcript to, after
 * the run and (`--follow`) while it streams.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StepEvent, Transcript } from '../../src/client';
import { FileSessionStore } from '../../src/stores/file-store';
import { startTao, stopTaoProcesses, tao } from '../support/cli';
import { PROTOCOLS, fakeExecutor, fakeProviderPerTest, llmSpec } from '../support/llm-harness';
import { closeDevClient, devServerAddress, uniqueId, withWorker } from '../support/temporal';

afterAll(async () => {
  await stopTaoProcesses();
  await closeDevClient();
});

const openai = PROTOCOLS[0]!;
const dir = mkdtempSync(join(tmpdir(), 'tao-cli-transcript-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tao transcript', () => {
  const fixture = fakeProviderPerTest(openai);
  const storeDir = join(dir, 'store');
  const ref = ['--store', `file:${storeDir}`];
  const answer = `src/a.ts exports a = 1. ${'It is a constant. '.repeat(12)}`;

  /** Runs steps `t1` and `t2` (each: one tool call, then `answer`) on the dev server; resolves to the workflow id. */
  const run = async (whileRunning?: (workflowId: string) => Promise<void>) => {
    const executor = await fakeExecutor(openai, fixture.server, fixture.workspace);
    const workflowId = uniqueId('transcript');
    await withWorker(
      { executor, store: new FileSessionStore(storeDir), concurrency: 1 },
      async ({ client, taskQueue }) => {
        const handle = await client.workflow.start('parallelWorkflow', {
          taskQueue,
          workflowId,
          args: [{ specs: [llmSpec({ taskId: 't1' }), llmSpec({ taskId: 't2' })], concurrency: 1 }],
        });
        await whileRunning?.(workflowId);
        await handle.result();
      },
    );
    return workflowId;
  };
  const script = (chunkDelayMs = 0) => {
    for (let step = 0; step < 2; step++) {
      fixture.server.reply(
        openai.toolCalls([{ name: 'read_file', input: { path: 'src/a.ts' } }], [100, 20]),
        {
          ...openai.text(answer, [150, 30]),
          chunkDelayMs,
        },
      );
    }
  };

  test('--json after a run: every event of the step, numbered; the table view; rm', async () => {
    script();
    const workflowId = await run();
    const shown = await tao(['transcript', workflowId, 't1', '--json', ...ref]);
    expect(shown).toMatchObject({ code: 0, stderr: '' });
    const transcript = JSON.parse(shown.stdout) as Transcript;
    expect(transcript).toMatchObject({ workflowId, taskId: 't1', lastSeq: transcript.events.length });
    const kinds = transcript.events.filter((e) => e.kind !== 'text-delta').map((e) => e.kind);
    expect(kinds).toEqual([
      'attempt-start',
      'turn-start',
      'turn-end',
      'tool-call',
      'tool-result',
      'turn-start',
      'turn-end',
      'attempt-end',
    ]);
    expect(transcript.events.find((e) => e.kind === 'turn-end')).toMatchObject({
      usage: { inputTokens: 100, outputTokens: 20 },
    });

    const table = await tao(['transcript', workflowId, 't1', ...ref]);
    expect(table.stdout).toMatch(
      /^#1 \d\d:\d\d:\d\d\.\d{3} a1 attempt started\n#2 .* a1 round 1: asked the model\n/,
    );
    expect(table.stdout).toMatch(/a1 round 1: calls read_file \{"path":"src\/a\.ts"\} \[call_0\]\n/);
    expect(table.stdout).toMatch(/a1 attempt ended: success\n$/);

    expect(await tao(['transcript', 'rm', workflowId, 't1', ...ref])).toMatchObject({
      code: 0,
      stdout: 'removed 1 transcript\n',
    });
    expect(await tao(['transcript', workflowId, 't1', ...ref])).toMatchObject({
      code: 1,
      stderr: `tao: no transcript of step t1 of ${workflowId} in file:${storeDir}; only llm steps keep one, in the store their workers use: give that one with --store\n`,
    });
    // Without a task id, every step's of the workflow: t2's is what is left.
    expect(await tao(['transcript', 'rm', workflowId, ...ref])).toMatchObject({
      code: 0,
      stdout: 'removed 1 transcript\n',
    });
    expect(await tao(['transcript', 'rm', workflowId, ...ref])).toMatchObject({
      code: 1,
      stderr: `tao: no transcript of workflow ${workflowId} in file:${storeDir}\n`,
    });
  });

  test('--follow --json prints text as it streams and ends with the step', async () => {
    script(60);
    let follower: ReturnType<typeof startTao> | undefined;
    let endedWhenTextArrived: boolean | undefined;
    await run(async (workflowId) => {
      // With the server's address, it can ask the run whether the step still runs.
      follower = startTao(['transcript', workflowId, 't2', '--follow', '--json', ...ref], {
        env: { TEMPORAL_ADDRESS: devServerAddress() },
      });
      await follower.waitFor('"kind":"text-delta"');
      endedWhenTextArrived = follower.output().includes('"kind":"attempt-end"');
    });
    await follower!.waitFor('"kind":"attempt-end"');
    expect(endedWhenTextArrived).toBe(false);
    const events = follower!
      .output()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as StepEvent);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const deltas = events.filter((e) => e.kind === 'text-delta');
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.map((e) => e.text).join('')).toBe(answer);
    expect(events.at(-1)).toMatchObject({ kind: 'attempt-end', result: 'success' });
  });
});
