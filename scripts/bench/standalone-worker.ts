/**
 * A standalone `tao worker` process, as an operator runs one, for figures of
 * the worker alone: its resident memory (read from /proc, sampled every
 * 100 ms) apart from the client and the benchmark.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { type TaoProcess, startTao } from '../../test/support/cli';

export interface StandaloneWorker {
  readonly process: TaoProcess;
  /** Resident memory now, in MiB. */
  rssMiB(): number;
  /** Peak resident memory while `body` runs, in MiB, and what it returned. */
  peakDuring<T>(body: () => Promise<T>): Promise<{ value: T; peakMiB: number }>;
  stop(): Promise<void>;
}

/** Bytes the process caused to be sent to storage, counted as it dirtied pages (`write_bytes` of /proc/<pid>/io). */
export function deviceWriteBytes(pid: number): number {
  return Number(/^write_bytes:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);
}

export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** Bundles the workflows at `workflowsPath` into `file` for worker processes to load; the bundler says only warnings and errors. */
export async function writeWorkflowBundle(workflowsPath: string, file: string): Promise<void> {
  const logger = { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error };
  writeFileSync(file, (await bundleWorkflowCode({ workflowsPath, logger })).code);
}

/**
 * Peak of `rss` (sampled every 100 ms) while `body` runs, and what it
 * returned. A process that dies mid-run (`rss` throws) fails it then, not at
 * the body's end: its workflow would wait for a worker that never comes.
 */
export async function peakRssDuring<T>(
  rss: () => number,
  body: () => Promise<T>,
): Promise<{ value: T; peakMiB: number }> {
  let peakMiB = rss();
  let sampler: NodeJS.Timeout | undefined;
  const gone = new Promise<never>((_, reject) => {
    sampler = setInterval(() => {
      try {
        peakMiB = Math.max(peakMiB, rss());
      } catch (error) {
        reject(error as Error);
      }
    }, 100);
  });
  try {
    const value = await Promise.race([body(), gone]);
    return { value, peakMiB };
  } finally {
    clearInterval(sampler);
  }
}

/** Where the benchmark's server is and where its client keeps large payloads, which its workers must share. */
export interface BenchServer {
  address: string;
  blobs: string;
}

/** Starts `tao worker` with `store` (default: memory) and `args` (the executor among them). */
export async function startStandaloneWorker(
  server: BenchServer,
  taskQueue: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  store = 'memory',
): Promise<StandaloneWorker> {
  const worker = startTao(
    [
      'worker',
      '--address',
      server.address,
      '--blobs',
      server.blobs,
      '--task-queue',
      taskQueue,
      '--store',
      store,
      ...args,
    ],
    {
      env,
    },
  );
  await worker.waitFor('worker polling task queue', 120_000);
  const rss = () => {
    try {
      return rssMiB(worker.pid);
    } catch {
      throw new Error(`the worker process is gone; it printed: ${worker.output().slice(-2_000)}`);
    }
  };
  return {
    process: worker,
    rssMiB: rss,
    peakDuring: (body) => peakRssDuring(rss, body),
    stop: () => worker.stop(),
  };
}
