/**
 * Scaling out: throughput of zero-delay steps with 1, 2 and 4 standalone
 * worker processes on one task queue. The run is partitioned into child
 * workflows, so workflow tasks as well as steps spread over the workers.
 */
import type { Client } from '@temporalio/client';
import { type BenchServer, type StandaloneWorker, startStandaloneWorker } from './standalone-worker';

export interface ScalePoint {
  workers: number;
  stepsPerSecond: number;
}

export async function scaling(
  client: Client,
  server: BenchServer,
  counts: number[],
  steps: number,
): Promise<ScalePoint[]> {
  const points: ScalePoint[] = [];
  const specs = Array.from({ length: steps }, (_, i) => ({ taskId: `x${i}`, agent: 'bench', prompt: '' }));
  for (const count of counts) {
    const taskQueue = `bench-scale-${count}-${Date.now()}`;
    const workers: StandaloneWorker[] = [];
    try {
      for (let i = 0; i < count; i++) {
        workers.push(
          await startStandaloneWorker(server, taskQueue, ['--executor', 'script', '--concurrency', '100']),
        );
      }
      const start = performance.now();
      await client.workflow.execute('parallelWorkflow', {
        taskQueue,
        workflowId: taskQueue,
        // Four children of 1,000 steps, 50 in flight each.
        args: [{ specs, concurrency: 200 }],
      });
      points.push({ workers: count, stepsPerSecond: steps / ((performance.now() - start) / 1000) });
    } finally {
      await Promise.all(workers.map((worker) => worker.stop()));
    }
  }
  return points;
}
