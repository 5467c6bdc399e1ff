/**
 * A batch run through worker crashes (issue #33: "SIGKILL the worker three
 * times during a 100,000-step run. All steps succeed, and no step that
 * finished more than the at-least-once window before a kill runs again"),
 * black-box as ./batch runs one: 2 KB specs started by the real `tao start
 * --items`, a standalone `tao worker --executor script:<rules echoing the
 * prompt> --store file:… --concurrency 100`. The worker process is SIGKILLed
 * three times at seeded moments the product does not choose (the first
 * 0.5–3 s after the run started, the others once a seeded share of the steps
 * had settled), a fresh worker started at once on the same store and task
 * queue each time.
 *
 * How re-runs are seen: the file store's segments keep every put, each line
 * stamped and each segment named after its worker process (./outcome-puts),
 * so a step that ran twice is a seq put twice, and its earlier put says which
 * worker made it and when. For each re-run, the gap is from that earlier
 * put's stamp to the SIGKILL of the worker that made it (a put by a worker
 * that was never killed has no kill to explain it: it counts beyond the
 * window). The stamp is taken as the put begins, before its write, so the
 * gap errs long. A step the kill caught in flight before its put ran again
 * too, but left one put: those the histories count, with every step the
 * server recorded completed on a later attempt than its first.
 *
 * Failover per kill, from the SIGKILL: to the replacement polling, to the
 * first put stamped after it (steps the dead worker had not begun, taken at
 * once), and to the run back at pace (a second holding half the run's
 * median puts a second). What the run waits for meanwhile the histories
 * tell (./crash-history): the steps caught in flight wait for their
 * heartbeat timeout, the whole run for a workflow task the dead worker held.
 */
import { loadavg } from 'node:os';
import type { Client } from '@temporalio/client';
import type { RunSummary } from '../../src/contracts';
import { type BatchSetup, batchSetup, checkedOutcomes, startBatch, startBatchWorker } from './batch';
import { type CrashHistory, crashHistory } from './crash-history';
import { type Kill, type Killed, type ReRun, crashPuts } from './crash-puts';
import { OutcomePuts } from './outcome-puts';
import { seededRandom } from './workload';

/**
 * The at-least-once window: how long before a kill a step may have finished
 * (put its outcome) and still run again. Its put done, the step's activity
 * has still to complete to the server; a kill before that completion lands
 * loses it, and the server retries the step once its heartbeat times out.
 * What bounds that span is the heartbeat timeout of the default step policy
 * (7 s, src/workflows/lib/step-call.ts), which `tao start --items` leaves
 * as it is: the activity beats until its put resolved, so a completion not
 * at the server 7 s after its last beat is retried with no kill at all. A
 * re-run whose earlier put came longer before the kill is not the kill's
 * doing. The span itself (a group-committed fdatasync, the completion's
 * RPC) is well under a second on a healthy worker: the observed gaps say
 * how far under.
 */
const AT_LEAST_ONCE_MS = 7_000;

/** How often the share of settled steps is read while waiting for a kill point. */
const POLL_MS = 200;

type KillPoint = { afterStartMs: number } | { settledShare: number };

/** One kill early in the run, then one in each half of it (roughly), from `seed`. */
function killPoints(seed: number): KillPoint[] {
  const random = seededRandom(seed);
  return [
    { afterStartMs: Math.round(500 + random() * 2_500) },
    { settledShare: 0.15 + random() * 0.35 },
    { settledShare: 0.5 + random() * 0.4 },
  ];
}

const describePoint = (point: KillPoint) =>
  'afterStartMs' in point
    ? `${(point.afterStartMs / 1000).toFixed(2)} s after the run started`
    : `once ${(100 * point.settledShare).toFixed(0)}% of the steps had settled`;

export interface BatchCrash {
  steps: number;
  seed: number;
  /** From `tao start --items` starting to the run's result. */
  ms: number;
  startMs: number;
  /** The machine's 1-minute load average as the run started and as it ended: others' work on a shared machine shows here. */
  load: [number, number];
  summary: { total: number; succeeded: number; failed: number };
  kills: Kill[];
  /** Half the run's median puts a second: what "at pace" after a kill means. */
  halfPace: number;
  /** Each worker process in turn, the killed ones first: its peak RSS while it ran. */
  workerPeaksMiB: number[];
  /** Steps with more than one put. */
  reRunSteps: number;
  /** What the run's histories say of the kills. */
  history: CrashHistory;
  reRuns: ReRun[];
  windowMs: number;
  maxGapMs: number;
  /** Re-runs whose earlier put came longer than the window before its kill, or with no kill. */
  beyondWindow: ReRun[];
  /** Puts stamped in each second of the run, from `tao start --items` starting: the pace around each kill. */
  putsPerSecond: number[];
}

export async function batchCrashRun(
  client: Client,
  address: string,
  dir: string,
  steps: number,
  promptBytes: number,
  seed: number,
): Promise<BatchCrash> {
  const setup = batchSetup(dir, steps, promptBytes);
  const puts = new OutcomePuts(setup.store);
  const killed: Killed[] = [];
  const workerPeaksMiB: number[] = [];
  let worker = await startBatchWorker(address, setup);
  try {
    const begin = Date.now();
    const loadBefore = loadavg()[0]!;
    let run: Started | undefined;
    for (const point of killPoints(seed)) {
      const { peakMiB } = await worker.peakDuring(async () => {
        run ??= await started(client, address, setup);
        await reached(point, puts, run, steps);
      });
      workerPeaksMiB.push(peakMiB);
      const doomed = worker;
      const atMs = Date.now();
      await doomed.process.kill();
      puts.poll();
      const settled = puts.settled;
      worker = await startBatchWorker(address, setup);
      const replacementMs = Date.now() - atMs;
      killed.push({ pid: doomed.pid, atMs, planned: describePoint(point), settled, replacementMs });
      console.error(
        `batch-crash: SIGKILL ${killed.length} at ${seconds(atMs - begin)} (${describePoint(point)}; ${settled} steps settled), a replacement polling ${seconds(replacementMs)} later`,
      );
    }
    const { value: summary, peakMiB } = await worker.peakDuring(() => run!.result);
    const ms = Date.now() - begin;
    workerPeaksMiB.push(peakMiB);
    await checkedOutcomes(setup, run!.workflowId, summary);
    puts.poll();
    const history = await crashHistory(client, run!.workflowId);
    return {
      steps,
      seed,
      ms,
      startMs: run!.startMs,
      load: [loadBefore, loadavg()[0]!],
      summary: { total: summary.total, succeeded: summary.succeeded, failed: summary.failed },
      workerPeaksMiB,
      windowMs: AT_LEAST_ONCE_MS,
      history,
      ...crashPuts(puts.puts, killed, begin, AT_LEAST_ONCE_MS),
    };
  } finally {
    await worker.stop();
  }
}

interface Started {
  workflowId: string;
  startMs: number;
  /** Wall-clock ms `tao start --items` exited: the run is on. */
  startedAt: number;
  result: Promise<RunSummary>;
  ended(): boolean;
}

/** Starts the run with `tao start --items`; its result's rejection is handled here until the caller awaits it. */
async function started(client: Client, address: string, setup: BatchSetup): Promise<Started> {
  const { workflowId, startMs } = await startBatch(address, setup);
  const result: Promise<RunSummary> = client.workflow.getHandle(workflowId).result();
  let ended = false;
  const end = () => void (ended = true);
  result.then(end, end);
  return { workflowId, startMs, startedAt: Date.now(), result, ended: () => ended };
}

/** Waits for a kill point; the run ending first is an error (its own, or too few steps for the schedule). */
async function reached(point: KillPoint, puts: OutcomePuts, run: Started, steps: number): Promise<void> {
  const due =
    'afterStartMs' in point
      ? () => Date.now() - run.startedAt >= point.afterStartMs
      : () => (puts.poll(), puts.settled >= point.settledShare * steps);
  while (!due()) {
    if (run.ended()) {
      await run.result; // a run that failed says why
      throw new Error(`the run ended before a kill ${describePoint(point)}: give it more steps`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
