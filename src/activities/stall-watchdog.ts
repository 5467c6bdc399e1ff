/**
 * Liveness that proves progress: an attempt whose executor reported nothing
 * (output, a progress report, a saved state, a streamed fragment) for the
 * stall limit is given up on, long before the attempt's own deadline, and
 * retried. The heartbeat ticker cannot tell that: it beats while a model
 * stream or a tool hangs.
 *
 * Invariants: the limit runs from {@link StallWatchdog.start} and restarts
 * at every {@link StallWatchdog.progress}; once stalled, the watchdog stays
 * stalled, its `signal` is aborted with the {@link StepStalledError}, and
 * `stalled` rejects with it. Before `start` and after `stop` it never fires.
 * Its `signal` is the attempt's one signal: it also aborts, with its reason,
 * when the `cancelled` it was given does, and the watchdog stops then.
 */

/**
 * Five minutes: longer than an llm step's quietest ordinary phases (a
 * `run_shell` tool, at most 2 min; an MCP tool call, 1 min by default; a
 * reasoning model's thinking before its first token, usually a minute or
 * two), and half the llm executor's 10 min attempt deadline, so a hung stream
 * costs half of what it did. Programs that print nothing until they are done
 * (`claude -p` with text output) need a larger limit, or a streaming output
 * format.
 */
export const DEFAULT_STALL_TIMEOUT_MS = 5 * 60_000;

/** How a user changes the limit, for the error that says it was hit. */
const HOW_TO_CHANGE =
  "raise stallTimeoutMs: the step spec's, its agent's in a command config, or the worker's (--stall-timeout-ms, env TAO_STALL_TIMEOUT_MS, or the createTaoWorker/TaoPlugin option)";

/** The executor made no progress for the stall limit: the attempt is given up and retried. */
export class StepStalledError extends Error {
  override readonly name = 'StepStalledError';
}

export class StallWatchdog {
  readonly signal: AbortSignal;
  /** Rejects once the step stalled; never resolves. */
  readonly stalled: Promise<never>;
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private lastWhat: string | undefined;
  private fail!: (error: StepStalledError) => void;

  /**
   * `step` names the step in the error, e.g. `step "t1" (agent explore)`.
   * One signal for both, not `AbortSignal.any`: Node 20 links that one's
   * signals by WeakRefs, which a minor GC keeps, so every attempt's signals
   * went on to the old generation: in a batch worker, a sixth of what its
   * main heap took in there, and V8 lets a heap that takes in fast grow to
   * four times what it holds.
   */
  constructor(
    private readonly limitMs: number,
    private readonly step: string,
    cancelled?: AbortSignal,
  ) {
    this.signal = this.controller.signal;
    const cancel = () => {
      this.stop();
      this.controller.abort(cancelled!.reason);
    };
    if (cancelled?.aborted) cancel();
    else cancelled?.addEventListener('abort', cancel, { once: true });
    this.stalled = new Promise<never>((_, reject) => (this.fail = reject));
    // Only a race that lost observes it; a step that never stalls must not leave an unhandled rejection.
    this.stalled.catch(() => {});
  }

  start(): void {
    if (this.timer || this.signal.aborted) return;
    this.last = Date.now();
    this.arm(this.limitMs);
  }

  /** `what` progressed, e.g. `output`; said in the error if it was the last before a stall. */
  progress(what: string): void {
    this.last = Date.now();
    this.lastWhat = what;
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** Checks at the limit after the last progress, not at every progress: a stream's chunks only set a time. */
  private arm(ms: number): void {
    this.timer = setTimeout(() => {
      const quiet = Date.now() - this.last;
      if (quiet < this.limitMs) return this.arm(this.limitMs - quiet);
      const error = new StepStalledError(
        `${this.step} stalled: no progress from its executor for ${seconds(quiet)} (${this.lastWhat ? `last progress: ${this.lastWhat}` : 'none since the attempt began'}), over the ${seconds(this.limitMs)} stall limit; the attempt is retried. If the step is just slow, ${HOW_TO_CHANGE}`,
      );
      this.controller.abort(error);
      this.fail(error);
    }, ms);
  }
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;
