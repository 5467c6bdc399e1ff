/**
 * What a user would write by hand instead of TAO: plain workflows that fan
 * out a no-op activity through their own bounded pool of promise lanes.
 * The benchmark runs them on the same server, beside TAO's, for the cost TAO
 * adds per step. Workflow code: deterministic, bundled on its own.
 */
import { proxyActivities } from '@temporalio/workflow';
import type * as activities from './activities';

const { step } = proxyActivities<typeof activities>({ startToCloseTimeout: '1 minute' });

/** `work` over `count` indexes, at most `limit` at a time. */
async function pool(count: number, limit: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
}

export async function handWrittenFanOut(steps: number, limit: number): Promise<string[]> {
  const outputs = new Array<string>(steps);
  await pool(steps, limit, async (i) => {
    outputs[i] = await step(`z${i}`);
  });
  return outputs;
}

/** Each item through every stage in turn, items `limit` at a time: no barrier between stages. */
export async function handWrittenPipeline(items: number, stages: number, limit: number): Promise<string[]> {
  const outputs = new Array<string>(items);
  await pool(items, limit, async (i) => {
    let prev = String(i);
    for (let stage = 0; stage < stages; stage++) prev = await step(`s${stage}-${i}: ${prev}`);
    outputs[i] = prev;
  });
  return outputs;
}
