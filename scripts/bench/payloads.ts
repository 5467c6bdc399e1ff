/**
 * A big run at real input sizes: N steps whose prompts are a few KB and whose
 * outputs (the script executor echoes each prompt) are as large, on a fresh
 * standalone `tao worker` with the file store and no heap flag. The figures
 * the short-prompt `big` section misses: the worker's peak memory with the
 * payloads in it, and what the run cost the disk as the kernel counts it
 * (`write_bytes`: pages dirtied, so every fsynced append that rewrites a page
 * counts the page), less the claim-check blobs.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { StepOutcome } from '../../src/contracts';
import {
  type BenchServer,
  deviceWriteBytes,
  startBareWorker,
  startStandaloneWorker,
} from './standalone-worker';

export type PayloadKind = 'parallelWorkflow' | 'resumableParallelWorkflow';

export interface PayloadRun {
  kind: PayloadKind;
  steps: number;
  promptBytes: number;
  ms: number;
  idleMiB: number;
  peakMiB: number;
  /** Bytes of every outcome's output. */
  outcomeBytes: number;
  /** The worker's `write_bytes` over the run, less {@link blobBytes}. */
  storeWriteBytes: number;
  /** Claim-check blobs the worker wrote (results and child inputs over the threshold), in whole pages. */
  blobBytes: number;
}

const PAGE = 4096;

/** Files in `dir` now, by name, with their sizes rounded up to whole pages (what writing them dirties). */
function pagesByFile(dir: string): Map<string, number> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return new Map();
  }
  return new Map(names.map((name) => [name, Math.ceil(statSync(join(dir, name)).size / PAGE) * PAGE]));
}

/** Each prompt its own text, as real prompts are; base64 keeps it one byte a character. */
export const payloadSpec = (i: number, promptBytes: number) => ({
  taskId: `p${i}`,
  agent: 'bench',
  prompt: randomBytes((promptBytes * 3) / 4).toString('base64'),
});

const payloadSpecs = (steps: number, promptBytes: number) =>
  Array.from({ length: steps }, (_, i) => payloadSpec(i, promptBytes));

export interface FloorRun {
  idleMiB: number;
  peakMiB: number;
}

/**
 * The same specs into one workflow and the same outputs out of it, on a bare
 * SDK worker process with TAO's codec (./payload-floor) and no step run: what
 * the SDK's payload path costs a worker for this input and result, whatever
 * the workflow does between.
 */
export async function payloadFloor(
  client: Client,
  bench: BenchServer,
  dir: string,
  steps: number,
  promptBytes: number,
): Promise<FloorRun> {
  const taskQueue = `bench-floor-${Math.random().toString(36).slice(2)}`;
  const worker = await startBareWorker(bench, dir, taskQueue, require.resolve('./payload-floor/workflows'));
  try {
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // settled after start-up, as payloadRun's
    const idleMiB = worker.rssMiB();
    const specs = payloadSpecs(steps, promptBytes);
    const { peakMiB } = await worker.peakDuring(() =>
      client.workflow.execute('echoWorkflow', {
        taskQueue,
        workflowId: `bench-floor-${Date.now()}`,
        args: [{ specs }],
      }),
    );
    return { idleMiB, peakMiB };
  } finally {
    await worker.stop();
  }
}

export async function payloadRun(
  client: Client,
  bench: BenchServer,
  dir: string,
  kind: PayloadKind,
  steps: number,
  promptBytes: number,
): Promise<PayloadRun> {
  const storeDir = mkdtempSync(join(dir, 'payloads-'));
  const taskQueue = `bench-payloads-${Math.random().toString(36).slice(2)}`;
  const worker = await startStandaloneWorker(
    bench,
    taskQueue,
    ['--executor', 'script', '--concurrency', '100'],
    {},
    `file:${storeDir}`,
  );
  try {
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // settled after start-up
    const idleMiB = worker.rssMiB();
    const specs = payloadSpecs(steps, promptBytes);
    const workflowId = `bench-payloads-${kind}-${Date.now()}`;
    const writtenBefore = deviceWriteBytes(worker.process.pid);
    const { value, peakMiB } = await worker.peakDuring(async () => {
      const start = performance.now();
      const handle = await client.workflow.start(kind, {
        taskQueue,
        workflowId,
        args: [{ specs, concurrency: 100 }],
      });
      // The client wrote the input's blob; anything new after this the worker wrote.
      const blobsBefore = pagesByFile(bench.blobs);
      const outcomes = (await handle.result()) as StepOutcome[];
      return { ms: performance.now() - start, outcomes, blobsBefore };
    });
    const written = deviceWriteBytes(worker.process.pid) - writtenBefore;
    let blobBytes = 0;
    for (const [name, bytes] of pagesByFile(bench.blobs))
      if (!value.blobsBefore.has(name)) blobBytes += bytes;
    const failed = value.outcomes.filter((outcome) => !outcome.success).length;
    if (failed > 0) throw new Error(`${failed} of ${steps} steps failed`);
    return {
      kind,
      steps,
      promptBytes,
      ms: value.ms,
      idleMiB,
      peakMiB,
      outcomeBytes: value.outcomes.reduce((sum, outcome) => sum + Buffer.byteLength(outcome.output), 0),
      storeWriteBytes: written - blobBytes,
      blobBytes,
    };
  } finally {
    await worker.stop();
  }
}
