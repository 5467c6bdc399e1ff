/**
 * Agents die with their worker: a real worker process runs a `command` step
 * whose program starts a grandchild, and is SIGKILLed mid-step. Within 5 s
 * nothing the step started is alive (counted by pid), and the retry on a
 * replacement worker is the only copy of the agent running.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StepOutcome } from '../../src/contracts';
import { eventually } from '../support/gate-executor';
import { closeDevClient, devClient, uniqueId } from '../support/temporal';
import { startWorkerProcess, stopWorkerProcesses } from '../support/worker-process';

afterAll(async () => {
  await stopWorkerProcesses();
  await closeDevClient();
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('a SIGKILLed worker takes the step program and its grandchild with it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tao-lifetime-'));
  try {
    // Attempt 1 starts a grandchild and both wait long; attempt 2 (the retry) finishes at once.
    const agent = join(dir, 'agent.sh');
    writeFileSync(
      agent,
      [
        '#!/bin/sh',
        'if [ "$TAO_ATTEMPT" != 1 ]; then echo "attempt $TAO_ATTEMPT done"; exit 0; fi',
        'sleep 300 & echo $! > grandchild.pid',
        'echo $$ > child.pid',
        'echo working',
        'wait',
      ].join('\n'),
      { mode: 0o755 },
    );
    const configFile = join(dir, 'command.json');
    writeFileSync(configFile, JSON.stringify({ default: { argv: [agent, '{{prompt}}'], cwd: dir } }));
    const config = {
      taskQueue: uniqueId('lifetime'),
      storeDir: join(dir, 'store'),
      logFile: join(dir, 'side-effects.log'),
      script: {},
      executorRef: `command:${configFile}`,
    };
    const worker = await startWorkerProcess(config);
    const client = await devClient();
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue: config.taskQueue,
      workflowId: uniqueId('lifetime'),
      args: [
        {
          specs: [{ taskId: 'agent', agent: 'general', prompt: 'work' }],
          stepPolicy: { heartbeatTimeoutMs: 3_000, initialRetryIntervalMs: 200 },
        },
      ],
    });
    const pids = await eventually(async () =>
      existsSync(join(dir, 'grandchild.pid')) && existsSync(join(dir, 'child.pid'))
        ? ['child.pid', 'grandchild.pid'].map((f) => Number(readFileSync(join(dir, f), 'utf8')))
        : undefined,
    );
    expect(pids.every(alive)).toBe(true);

    await worker.kill();
    const killedAt = Date.now();
    await eventually(async () => (pids.some(alive) ? undefined : true), 5_000);
    console.log(`step processes gone ${Date.now() - killedAt} ms after the worker's SIGKILL`);

    await startWorkerProcess(config);
    const [outcome] = (await handle.result()) as StepOutcome[];
    expect(outcome).toMatchObject({ success: true, output: 'attempt 2 done' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
