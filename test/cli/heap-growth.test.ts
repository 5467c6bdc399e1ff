/**
 * A real `tao worker` process lets each of its V8 heaps grow by half over
 * what survived a full collection (see limitHeapGrowth in src/worker.ts),
 * and a growth given to node itself wins. V8's verbose GC trace prints the
 * factor behind each new limit, per isolate: the main thread's and the SDK's
 * workflow thread's. `--initial-old-space-size` starts each heap small, so
 * that a run of 1,000 steps collects in both.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { taoDataConverter } from '../../src/codec';
import type { StepOutcome } from '../../src/contracts';
import { startTao, stopTaoProcesses } from '../support/cli';
import { closeDevClient, devClient, devServerAddress, uniqueId } from '../support/temporal';
import { useTempDir } from '../support/temp-dir';

afterAll(async () => {
  await stopTaoProcesses();
  await closeDevClient();
});

const dir = useTempDir('tao-heap-growth');

/** Each isolate's growth factors, in the order its collections set them. */
function factorsByIsolate(trace: string): Map<string, number[]> {
  const byIsolate = new Map<string, number[]>();
  for (const match of trace.matchAll(
    /^\[\d+:(0x[0-9a-f]+)\][^\n]*\[HeapController\] Limit: [^\n]*\(([\d.]+)\)$/gm,
  )) {
    const factors = byIsolate.get(match[1]!) ?? [];
    factors.push(Number(match[2]));
    byIsolate.set(match[1]!, factors);
  }
  return byIsolate;
}

async function factorsAfterARun(nodeFlags: string[]): Promise<Map<string, number[]>> {
  const script = join(dir(), 'script.json');
  writeFileSync(script, JSON.stringify({ default: { output: '{{{prompt}}}' } }));
  const blobs = join(dir(), 'blobs');
  const taskQueue = uniqueId('heap');
  const worker = startTao(
    [
      'worker',
      '--address',
      devServerAddress(),
      '--task-queue',
      taskQueue,
      '--executor',
      `script:${script}`,
      '--blobs',
      blobs,
    ],
    { nodeFlags: ['--trace-gc-verbose', '--initial-old-space-size=16', ...nodeFlags] },
  );
  await worker.waitFor('worker polling task queue', 60_000);
  // The result is over the claim-check threshold: read it from the worker's blob store.
  const client = new Client({
    connection: (await devClient()).connection,
    dataConverter: taoDataConverter({ blobs }),
  });
  const specs = Array.from({ length: 1000 }, (_, i) => ({
    taskId: `t${i}`,
    agent: 'explore',
    prompt: 'p'.repeat(2048),
  }));
  const outcomes: StepOutcome[] = await client.workflow.execute('parallelWorkflow', {
    taskQueue,
    workflowId: uniqueId('heap'),
    args: [{ specs, concurrency: 50 }],
  });
  expect(outcomes.filter((outcome) => outcome.success)).toHaveLength(specs.length);
  await worker.stop();
  return factorsByIsolate(worker.output());
}

test('the worker grows each heap by at most 1.5× between full collections, the main thread and the workflow thread', async () => {
  const isolates = [...(await factorsAfterARun([])).values()];
  expect(isolates.length).toBeGreaterThanOrEqual(2);
  // The main thread collected while the CLI loaded, before the worker set the factor; its last collections ran after.
  const [main, ...workflowThreads] = isolates;
  expect(main!.at(-1)).toBe(1.5);
  for (const factors of workflowThreads) expect(new Set(factors)).toEqual(new Set([1.5]));
}, 120_000);

test("a growth given to node itself is the worker's", async () => {
  const isolates = [...(await factorsAfterARun(['--heap-growing-percent=80'])).values()];
  expect(isolates.length).toBeGreaterThanOrEqual(2);
  for (const factors of isolates) expect(new Set(factors)).toEqual(new Set([1.8]));
}, 120_000);
