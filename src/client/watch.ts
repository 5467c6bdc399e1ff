/**
 * Waits for a run while showing its progress: one line redrawn in place on a
 * terminal, or a line per change (at most every few seconds) in logs and CI.
 * Everything goes to stderr so stdout stays clean for tables and `--json`.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { Progress } from '../workflows/lib/progress';
import { fetchRunProgress } from './fetch-progress';
import { progressLine, progressWarnings } from './progress-line';
import { OutputFollower, runningSteps } from './running';

const POLL_MS = 500;
const LOG_EVERY_MS = 2_000;

class StatusLine {
  private shown?: string;
  private pending?: string;
  private loggedAt = 0;

  constructor(private readonly out: NodeJS.WriteStream) {}

  update(text: string): void {
    if (text === this.shown || text === this.pending) return;
    if (this.out.isTTY) {
      this.shown = text.slice(0, Math.max(20, (this.out.columns || 80) - 1));
      this.out.write(`\r\x1b[K${this.shown}`);
    } else if (Date.now() - this.loggedAt >= LOG_EVERY_MS) {
      this.log(text);
    } else {
      this.pending = text;
    }
  }

  /** A permanent line (a warning), printed above the status line. */
  note(text: string): void {
    if (this.out.isTTY) this.out.write(`\r\x1b[K${text}\n${this.shown ?? ''}`);
    else this.out.write(`${text}\n`);
  }

  /** Leaves the last state on screen (or in the log) and moves past it. */
  end(): void {
    if (this.out.isTTY) {
      if (this.shown !== undefined) this.out.write('\n');
    } else if (this.pending !== undefined) {
      this.log(this.pending);
    }
  }

  private log(text: string): void {
    this.out.write(`${text}\n`);
    this.shown = text;
    this.pending = undefined;
    this.loggedAt = Date.now();
  }
}

export interface WatchOptions {
  /** The run's full step count when known, so the bar does not jump as pipeline chains advance. */
  expectedSteps?: number;
  /** Shown while no worker answers the progress query. */
  waitingFor: string;
  /** Also print each running step's latest output line as it changes (`taskId │ line`). */
  followOutput?: boolean;
  out?: NodeJS.WriteStream;
}

export interface Watched<T> {
  result: T;
  /** The last progress seen; after a completed run, its final state. */
  progress?: Progress;
}

/** Resolves with the workflow's result (or rejects with its failure) once it closes. */
export async function watchRun<T>(handle: WorkflowHandle, options: WatchOptions): Promise<Watched<T>> {
  const line = new StatusLine(options.out ?? process.stderr);
  const warned = new Set<string>();
  let latest: Progress | undefined;
  const show = (progress: Progress | undefined) => {
    if (!progress) return line.update(`waiting for ${options.waitingFor}…`);
    latest = progress;
    for (const warning of progressWarnings(progress).filter((w) => !warned.has(w))) {
      warned.add(warning);
      line.note(`warning: ${warning}`);
    }
    line.update(progressLine(progress, options.expectedSteps));
  };

  // Settled up front so a failure that lands mid-poll is never an unhandled rejection.
  const outcome = handle.result().then(
    (value: T) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  let closed = false;
  void outcome.then(() => (closed = true));
  const follower = options.followOutput ? new OutputFollower() : undefined;
  while (!closed) {
    show(await fetchRunProgress(handle));
    if (follower) {
      // A describe that fails (the run just closed, a blip) only skips one look.
      const steps = await runningSteps(handle).catch(() => []);
      for (const [taskId, text] of follower.update(steps)) line.note(`${taskId} │ ${text}`);
    }
    await Promise.race([outcome, sleep(POLL_MS)]);
  }
  // Closed workflows still answer queries while a worker polls (it replays them): the final tally.
  const final = await fetchRunProgress(handle);
  if (final) show(final);
  line.end();
  const settled = await outcome;
  if (!settled.ok) throw settled.error;
  return { result: settled.value, ...(latest ? { progress: latest } : {}) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
