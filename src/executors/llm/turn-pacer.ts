/**
 * Lets model requests open one per event-loop turn.
 *
 * A wide run starts hundreds of steps together: the worker receives their
 * activity tasks in one burst. Opening a streamed request is a millisecond or
 * two of synchronous work (the SDK's request, fetch's set-up, the connect).
 * Opened together, they held a 500-step worker's event loop for 100-600 ms at
 * a time, and every heartbeat and stream chunk of the steps already running
 * waited behind them. Paced, the same work runs between timers and I/O.
 *
 * The pace costs a request nothing but the work queued ahead of it: a turn
 * with nothing else to do takes microseconds, and a lone request waits for
 * no one.
 */
export class TurnPacer {
  private readonly waiting: (() => void)[] = [];
  private scheduled = false;

  /** Resolves in a turn of its own, after every earlier caller's. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (!this.scheduled) this.schedule();
    });
  }

  // An immediate set from inside an immediate runs in the next turn, after its timers and I/O.
  private schedule(): void {
    this.scheduled = true;
    setImmediate(() => {
      this.waiting.shift()!();
      if (this.waiting.length > 0) this.schedule();
      else this.scheduled = false;
    });
  }
}
