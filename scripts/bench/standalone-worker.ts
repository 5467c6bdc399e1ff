/**
 * A standalone `tao worker` process, as an operator runs one, for figures of
 * the worker alone: its resident memory (read from /proc, sampled every
 * 100 ms) apart from the client and the benchmark.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { type TaoProcess, builtPackage, startTao } from '../../test/support/cli';

/** A worker process the benchmark started, and its memory as /proc has it. */
export interface WorkerProcess {
  readonly pid: number;
  /** Resident memory now, in MiB. */
  rssMiB(): number;
  /** Peak resident memory while `body` runs, in MiB, and what it returned. */
  peakDuring<T>(body: () => Promise<T>): Promise<{ value: T; peakMiB: number }>;
  stop(): Promise<void>;
}

export interface StandaloneWorker extends WorkerProcess {
  readonly process: TaoProcess;
}

/** CPU seconds the process has used so far, user and system (utime + stime of /proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Linux's USER_HZ, the unit of /proc's CPU times: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

const PAGE = 4096;

/** Bytes of the files under `path`, each rounded up to whole pages (what writing it dirtied at least once). */
export function pagesUnder(path: string): number {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    return 0;
  }
  if (!stats.isDirectory()) return Math.ceil(stats.size / PAGE) * PAGE;
  return readdirSync(path).reduce((sum, name) => sum + pagesUnder(join(path, name)), 0);
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

/** Starts `tao worker` with `store` (default: memory), `args` (the executor among them) and Node's `nodeFlags`. */
export async function startStandaloneWorker(
  server: BenchServer,
  taskQueue: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  store = 'memory',
  nodeFlags: string[] = [],
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
    { env, nodeFlags },
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
    pid: worker.pid,
    rssMiB: rss,
    peakDuring: (body) => peakRssDuring(rss, body),
    stop: () => worker.stop(),
  };
}

/**
 * A bare SDK worker process (./payload-floor/worker.js: the SDK and TAO's
 * codec, none of TAO's activities, stores or telemetry) running the workflows
 * at `workflowsPath`, bundled into `dir`, and the activities exported by the
 * plain JavaScript module `activitiesPath`, if any.
 */
export async function startBareWorker(
  server: BenchServer,
  dir: string,
  taskQueue: string,
  workflowsPath: string,
  activitiesPath?: string,
): Promise<WorkerProcess> {
  const codePath = join(dir, `workflows-${taskQueue}.js`);
  await writeWorkflowBundle(workflowsPath, codePath);
  const worker = spawn(
    process.execPath,
    [
      join(__dirname, 'payload-floor', 'worker.js'),
      server.address,
      taskQueue,
      server.blobs,
      codePath,
      join(builtPackage(), 'dist'),
      ...(activitiesPath ? [activitiesPath] : []),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    worker.stdout.on('data', (chunk: Buffer) => String(chunk).includes('polling') && resolve());
    worker.once('exit', (code) => reject(new Error(`the bare worker exited with ${code}`)));
  });
  const rss = () => rssMiB(worker.pid!);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    pid: worker.pid!,
    rssMiB: rss,
    peakDuring: (body) => peakRssDuring(rss, body),
    stop: async () => {
      worker.kill('SIGKILL');
      await exited;
    },
  };
}
