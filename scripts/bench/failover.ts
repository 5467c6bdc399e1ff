/**
 * Failover after a worker's SIGKILL, with TAO's default step policy: steps in
 * flight on a worker process that is killed, a replacement started at once,
 * and for each step the time from the kill to its start on the replacement
 * (read from the side-effect log both workers append to).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { SideEffects } from '../../test/support/side-effect-log';
import { startWorkerProcess } from '../../test/support/worker-process';

export interface Failover {
  steps: number;
  p50Ms: number;
  maxMs: number;
}

export async function failover(client: Client, steps: number): Promise<Failover> {
  const dir = mkdtempSync(join(tmpdir(), 'tao-bench-failover-'));
  const base = {
    taskQueue: `failover-${Date.now()}`,
    storeDir: join(dir, 'store'),
    logFile: join(dir, 'log'),
  };
  try {
    const doomed = await startWorkerProcess({
      ...base,
      script: { concurrency: steps, default: { delayMs: 600_000 } },
    });
    const taskIds = Array.from({ length: steps }, (_, i) => `step-${i}`);
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue: base.taskQueue,
      workflowId: base.taskQueue,
      args: [
        {
          specs: taskIds.map((taskId) => ({ taskId, agent: 'explore', prompt: 'wait' })),
          concurrency: steps,
        },
      ],
    });
    while (SideEffects.read(base.logFile).inFlight().length < steps) await sleep(50);
    const killedAt = Date.now();
    await doomed.kill();
    const replacement = await startWorkerProcess({ ...base, script: { concurrency: steps } });
    await handle.result();
    await replacement.stop();
    const log = SideEffects.read(base.logFile);
    const delays = taskIds.map((taskId) => log.starts(taskId)[1]!.at - killedAt).sort((a, b) => a - b);
    return { steps, p50Ms: delays[Math.floor(delays.length / 2)]!, maxMs: delays[delays.length - 1]! };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
