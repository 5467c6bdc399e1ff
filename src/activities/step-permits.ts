/**
 * How many agent steps a worker runs at once, kept by the step activity
 * itself rather than by the worker's activity slots: a worker TAO joins as a
 * plugin keeps its own `maxConcurrentActivityTaskExecutions` for every
 * activity, its user's included, and TAO's steps take a permit on top.
 *
 * Invariants: at most `size` holders at any time; waiters are served in
 * arrival order; a waiter whose signal aborts leaves the queue and holds
 * nothing; each permit is released once, however often `release` is called.
 */
export class StepPermits {
  private held = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {}

  get inUse(): number {
    return this.held;
  }

  /** Resolves with the permit's release once one is free; rejects with the signal's reason if it aborts first. */
  async acquire(signal: AbortSignal): Promise<() => void> {
    signal.throwIfAborted();
    if (this.held < this.size) {
      this.held++;
      return this.releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const granted = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        this.waiting.splice(this.waiting.indexOf(granted), 1);
        reject(signal.reason);
      };
      this.waiting.push(granted);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    return this.releaser();
  }

  /** A released permit passes straight to the next waiter, so `held` counts it throughout. */
  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.held--;
    };
  }
}
