/**
 * The ideal schedule: the same chains, the same delays and the same limit,
 * run in this process with real timers and no Temporal, so the difference to
 * TAO is orchestration cost alone.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PipelineWork } from './workload';

export async function runIdeal(work: PipelineWork, limit: number): Promise<number> {
  const start = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < work.items) {
      const item = next++;
      for (const delay of work.delays[item]!) await sleep(delay);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, work.items) }, lane));
  return performance.now() - start;
}
