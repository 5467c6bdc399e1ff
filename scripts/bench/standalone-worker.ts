/**
 * A standalone `tao worker` process, as an operator runs one, for figures of
 * the worker alone: its resident memory (read from /proc, sampled every
 * 100 ms) apart from the client and the benchmark.
 */
import { readFileSync } from 'node:fs';
import { type TaoProcess, startTao } from '../../test/support/cli';

export interface StandaloneWorker {
  readonly process: TaoProcess;
  /** Resident memory now, in MiB. */
  rssMiB(): number;
  /** Peak resident memory while `body` runs, in MiB, and what it returned. */
  peakDuring<T>(body: () => Promise<T>): Promise<{ value: T; peakMiB: number }>;
  stop(): Promise<void>;
}

export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** Starts `tao worker` with the memory store and `args` (the executor among them). */
export async function startStandaloneWorker(
  address: string,
  taskQueue: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<StandaloneWorker> {
  const worker = startTao(
    ['worker', '--address', address, '--task-queue', taskQueue, '--store', 'memory', ...args],
    {
      env,
    },
  );
  await worker.waitFor('worker polling task queue', 120_000);
  return {
    process: worker,
    rssMiB: () => rssMiB(worker.pid),
    async peakDuring(body) {
      let peakMiB = rssMiB(worker.pid);
      const sampler = setInterval(() => (peakMiB = Math.max(peakMiB, rssMiB(worker.pid))), 100);
      try {
        return { value: await body(), peakMiB };
      } finally {
        clearInterval(sampler);
      }
    },
    stop: () => worker.stop(),
  };
}
