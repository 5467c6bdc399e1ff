/**
 * Batch runs at scale (issue #33, part 2), black-box: a JSONL of N specs with
 * 2 KB prompts started by the real `tao start --items` (the upload is part of
 * the run) on a fresh standalone `tao worker --executor script:<rules> --store
 * file:… --concurrency 100` echoing each prompt, and beside it the same items
 * through a hand-written sliding-window batch (./hand-batch) on a bare SDK
 * worker. For each: wall time, the worker's peak RSS, every execution's
 * history as the server counts it, the worker's device writes, and the CPU
 * the worker and the dev server spent, per step.
 */
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { results } from '../../src/client';
import type { RunSummary } from '../../src/contracts';
import { FileOutcomeStore } from '../../src/outcomes';
import { tao } from '../../test/support/cli';
import type { HandBatchInput } from './hand-batch/workflows';
import { payloadSpec } from './payloads';
import {
  type StandaloneWorker,
  type WorkerProcess,
  cpuSeconds,
  deviceWriteBytes,
  pagesUnder,
  startBareWorker,
  startStandaloneWorker,
} from './standalone-worker';

/** Steps in flight: the worker's `--concurrency`, which a batch run without its own takes as its limit. */
const WINDOW = 100;

export interface Histories {
  executions: number;
  /** The largest execution by events and by bytes (each its own, they may be two executions). */
  maxEvents: number;
  maxBytes: number;
}

export interface Measured {
  steps: number;
  ms: number;
  idleMiB: number;
  peakMiB: number;
  /** utime + stime over the run. */
  workerCpuS: number;
  serverCpuS: number;
  /** The worker's write_bytes over the run. */
  writtenBytes: number;
  histories: Histories;
}

export interface TaoBatchRun extends Measured {
  /** From `tao start --items` starting to its exit: every line checked, uploaded, the run started. */
  startMs: number;
  /** Bytes of the outcomes' JSON, as `results()` reads them from the store. */
  outcomeBytes: number;
  /** What the run left on disk, in whole pages: each folder of the store, and the blobs the worker wrote. */
  parts: Record<string, number>;
  heaps: FullCollections;
}

/** The worker's V8 heaps (the main thread's, the workflow thread's) at their full collections, in MB. */
export interface FullCollections {
  count: number;
  /** The least and most a heap held after one: what the worker keeps, garbage aside. */
  heldMin: number;
  heldMax: number;
  /** The most held after the first and after the last tenth of them: flat if these are alike. */
  heldMaxFirstTenth: number;
  heldMaxLastTenth: number;
  /** The most a heap had grown to before one: what it held plus V8's headroom, the bulk of the RSS peak. */
  usedMaxBefore: number;
}

/** What `--trace-gc` printed of each full collection (Mark-Compact), in the order they came. */
export function fullCollections(output: string): FullCollections {
  const found = [
    ...output.matchAll(/Mark-Compact(?: \([\w ]+\))? ([\d.]+) \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB/g),
  ].map((match) => ({ before: Number(match[1]), held: Number(match[2]) }));
  if (found.length === 0)
    throw new Error('the worker printed no full collection; was it started with --trace-gc?');
  const held = found.map((gc) => gc.held);
  const tenth = Math.max(1, Math.floor(found.length / 10));
  return {
    count: found.length,
    heldMin: Math.min(...held),
    heldMax: Math.max(...held),
    heldMaxFirstTenth: Math.max(...held.slice(0, tenth)),
    heldMaxLastTenth: Math.max(...held.slice(-tenth)),
    usedMaxBefore: Math.max(...found.map((gc) => gc.before)),
  };
}

/** The pid of the Temporal dev server serving `address`, found in /proc by its command line. */
export function devServerPid(address: string): number {
  const port = address.split(':').pop();
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile
    }
    if (argv.includes('start-dev') && argv[argv.indexOf('--port') + 1] === port) return Number(entry);
  }
  throw new Error(`no Temporal dev server serving ${address} in /proc`);
}

/** `steps` specs with prompts of `promptBytes`, a line each; written a chunk at a time, so 1,000,000 fit. */
function writeSpecs(path: string, steps: number, promptBytes: number): void {
  const fd = openSync(path, 'w');
  try {
    for (let from = 0; from < steps; from += 1_000) {
      let chunk = '';
      for (let i = from; i < Math.min(steps, from + 1_000); i++)
        chunk += `${JSON.stringify(payloadSpec(i, promptBytes))}\n`;
      writeSync(fd, chunk);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Every execution of `workflowId` (its continue-as-new chain, and its
 * children's when it split) with the history length and size the server
 * reports for each (DescribeWorkflowExecution).
 */
async function historiesOf(client: Client, workflowId: string): Promise<Histories> {
  const histories = { executions: 0, maxEvents: 0, maxBytes: 0 };
  // A split run's children (and theirs) name it their root.
  for await (const execution of client.workflow.list({ query: `RootWorkflowId = "${workflowId}"` })) {
    const { historyLength, historySize } = await client.workflow
      .getHandle(execution.workflowId, execution.runId)
      .describe();
    if (historySize === undefined) throw new Error('the server reports no history size');
    histories.executions += 1;
    histories.maxEvents = Math.max(histories.maxEvents, historyLength);
    histories.maxBytes = Math.max(histories.maxBytes, historySize);
  }
  return histories;
}

/** `body` on `worker` once it settled after start-up, with what the worker and the server spent on it. */
async function measured<T>(worker: WorkerProcess, serverPid: number, body: () => Promise<T>) {
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const idleMiB = worker.rssMiB();
  const cpu = () => ({ worker: cpuSeconds(worker.pid), server: cpuSeconds(serverPid) });
  const before = { ...cpu(), written: deviceWriteBytes(worker.pid) };
  const start = performance.now();
  const { value, peakMiB } = await worker.peakDuring(body);
  const ms = performance.now() - start;
  const after = cpu();
  return {
    value,
    ms,
    idleMiB,
    peakMiB,
    workerCpuS: after.worker - before.worker,
    serverCpuS: after.server - before.server,
    writtenBytes: deviceWriteBytes(worker.pid) - before.written,
  };
}

/** What a black-box batch run is made of, in a folder of its own under the bench's. */
export interface BatchSetup {
  steps: number;
  /** The specs, a JSONL line each. */
  items: string;
  /** The script executor's rules: each step's output is its prompt. */
  rules: string;
  /** The worker's file outcome store. */
  store: string;
  blobs: string;
  taskQueue: string;
}

/** Writes `steps` specs and the rules echoing each prompt into a fresh folder under `dir`. */
export function batchSetup(dir: string, steps: number, promptBytes: number): BatchSetup {
  const runDir = mkdtempSync(join(dir, 'batch-'));
  const items = join(runDir, 'specs.jsonl');
  writeSpecs(items, steps, promptBytes);
  // Each step's output: its prompt, unescaped (Mustache's triple braces).
  const rules = join(runDir, 'rules.json');
  writeFileSync(rules, JSON.stringify({ default: { output: '{{{prompt}}}' } }));
  return {
    steps,
    items,
    rules,
    store: join(runDir, 'store'),
    blobs: join(runDir, 'blobs'),
    taskQueue: `bench-batch-${Math.random().toString(36).slice(2)}`,
  };
}

/** A fresh standalone `tao worker` for the run: the script executor, the file store, {@link WINDOW} slots. */
export const startBatchWorker = (address: string, setup: BatchSetup): Promise<StandaloneWorker> =>
  startStandaloneWorker(
    { address, blobs: setup.blobs },
    setup.taskQueue,
    ['--executor', `script:${setup.rules}`, '--concurrency', String(WINDOW)],
    {},
    `file:${setup.store}`,
    // Not a heap flag: it prints what each full collection found, which sorts held memory from garbage.
    ['--trace-gc', '--trace-gc-ignore-scavenger'],
  );

/** Starts the run with the real `tao start --items`: its workflow id, and how long the command took to exit. */
export async function startBatch(address: string, setup: BatchSetup) {
  const start = performance.now();
  const started = await tao(
    [
      'start',
      '--items',
      setup.items,
      '--address',
      address,
      '--task-queue',
      setup.taskQueue,
      '--blobs',
      setup.blobs,
    ],
    { timeoutMs: 3_600_000 },
  );
  if (started.code !== 0) throw new Error(`tao start --items exited ${started.code}: ${started.stderr}`);
  return { workflowId: started.stdout.trim(), startMs: performance.now() - start };
}

/**
 * Checks the run's summary and what `results()` reads back from the store:
 * every step counted, none failed, and exactly one outcome for each seq
 * 0..steps-1, each a success echoing its prompt. Returns the outcomes' JSON bytes.
 */
export async function checkedOutcomes(
  setup: BatchSetup,
  workflowId: string,
  summary: RunSummary,
): Promise<number> {
  const { steps } = setup;
  if (summary.total !== steps || summary.failed > 0)
    throw new Error(`the batch run settled ${summary.total} of ${steps} steps, ${summary.failed} failed`);
  let bytes = 0;
  let next = 0;
  for await (const { seq, outcome } of results(new FileOutcomeStore(setup.store), workflowId)) {
    if (seq !== next || !outcome.success || outcome.taskId !== `p${seq}` || !outcome.output)
      throw new Error(`results(): seq ${seq} where ${next} was due, or its outcome is not its echoed prompt`);
    next += 1;
    bytes += Buffer.byteLength(JSON.stringify(outcome));
  }
  if (next !== steps) throw new Error(`results() read back ${next} outcomes of ${steps}`);
  return bytes;
}

export async function taoBatchRun(
  client: Client,
  address: string,
  dir: string,
  steps: number,
  promptBytes: number,
): Promise<TaoBatchRun> {
  const setup = batchSetup(dir, steps, promptBytes);
  const worker = await startBatchWorker(address, setup);
  try {
    const { value, ...run } = await measured(worker, devServerPid(address), async () => {
      const { workflowId, startMs } = await startBatch(address, setup);
      // What the worker writes to the blob store from here on: claim checks of payloads over 128 KiB.
      const uploaded = pagesUnder(setup.blobs);
      const summary: RunSummary = await client.workflow.getHandle(workflowId).result();
      return { workflowId, summary, startMs, uploaded };
    });
    const { workflowId, summary, startMs, uploaded } = value;
    const outcomeBytes = await checkedOutcomes(setup, workflowId, summary);
    const parts: Record<string, number> = {};
    for (const name of readdirSync(setup.store)) parts[name] = pagesUnder(join(setup.store, name));
    parts['blobs (the worker’s)'] = pagesUnder(setup.blobs) - uploaded;
    return {
      steps,
      ...run,
      startMs,
      outcomeBytes,
      parts,
      histories: await historiesOf(client, workflowId),
      heaps: fullCollections(worker.process.output()),
    };
  } finally {
    await worker.stop();
  }
}

/** The same shape hand-written (./hand-batch) on a bare SDK worker: the cost of the pattern itself. */
export async function handBatchRun(
  client: Client,
  address: string,
  dir: string,
  steps: number,
  promptBytes: number,
): Promise<Measured> {
  const runDir = mkdtempSync(join(dir, 'hand-batch-'));
  const input: HandBatchInput = {
    file: join(runDir, 'specs.jsonl'),
    out: join(runDir, 'out.jsonl'),
    window: WINDOW,
  };
  writeSpecs(input.file, steps, promptBytes);
  const taskQueue = `bench-hand-batch-${Math.random().toString(36).slice(2)}`;
  const workflowId = `bench-hand-batch-${steps}-${Date.now()}`;
  const worker = await startBareWorker(
    { address, blobs: join(runDir, 'blobs') },
    runDir,
    taskQueue,
    require.resolve('./hand-batch/workflows'),
    require.resolve('./hand-batch/activities.js'),
  );
  try {
    const { value, ...run } = await measured(worker, devServerPid(address), () =>
      client.workflow.execute('handBatch', { taskQueue, workflowId, args: [input] }),
    );
    if (value !== steps) throw new Error(`the hand-written batch did ${value} of ${steps} steps`);
    return { steps, ...run, histories: await historiesOf(client, workflowId) };
  } finally {
    await worker.stop();
  }
}
