/**
 * The run's concurrency: a step's activity takes a slot, and only an activity
 * in flight holds one. A step waiting for a person, a budget, its tasks or a
 * pause holds none, so it never keeps work that needs no decision from running.
 *
 * Waiters queue in priority order and are granted one by one as slots free,
 * never each by a `condition()` of its own: the SDK evaluates every blocked
 * condition on every activation, so an activation's cost would grow with the
 * number of steps waiting (thousands, when a few hundred agents delegate).
 *
 * Freed slots are granted once the activation's code has run on (one shared
 * condition), not the moment an activity settles: the step that freed a slot
 * has then asked for its next one (a pipeline chain's next stage), and the
 * queue's order, not the order promises resolved in, decides who goes first.
 */
import { CancellationScope, condition } from '@temporalio/workflow';

/**
 * Where a step stands in the run's order: its top-level position, then its
 * position among its parent's tasks at each depth. Lower goes first, so a
 * delegated task runs before later top-level steps (its parent has started and
 * waits on it), and a pipeline's later stage before later items' first.
 */
export type Priority = readonly number[];

/**
 * `deferred`: not granted, because the execution's history admits no new step
 * (see ./history); `withdrawn`: the step was cancelled while it waited.
 */
export type Grant = 'granted' | 'deferred' | 'withdrawn';

/** What a slot is for: a step's first activity, which a pause holds back and history may defer, or a later one. */
export interface Want {
  /** The step's task id, by which `cancelStep` withdraws it. */
  taskId: string;
  priority: Priority;
  /** A step's first activity: no new step starts while the run is paused. */
  first: boolean;
  /** It may be left to the next execution. */
  deferrable: boolean;
}

interface Waiter extends Want {
  resolve: (grant: Grant) => void;
}

/** The most activities one execution keeps in flight, whatever `concurrency` says: Temporal's per-workflow cap is 2,000 pending. */
export const MAX_ACTIVITIES_IN_FLIGHT = 1_000;

export class RunSlots {
  private inFlight = 0;
  private readonly queue: Waiter[] = [];
  private dispatching = false;

  /**
   * `limit` is read at every grant, so a `setConcurrency` Update takes effect
   * when it lands (call {@link wake} then); `admits` says whether the
   * execution may still start a deferrable step.
   */
  constructor(
    private readonly limit: () => number,
    private readonly admits: () => boolean,
    private readonly paused: () => boolean,
  ) {}

  /** Activities in flight now. */
  get busy(): number {
    return this.inFlight;
  }

  /**
   * A slot for one activity: `granted` (then {@link release} it once the
   * activity settled) or `deferred`. Synchronous when it can be decided now,
   * so a step on a run with room costs no promise more. A cancelled scope
   * rejects a queued wait with its cancellation.
   */
  take(want: Want): Grant | Promise<Grant> {
    const now = this.tryTake(want);
    if (now !== undefined) return now;
    return new Promise<Grant>((resolve, reject) => {
      const waiter: Waiter = { ...want, resolve };
      this.queue.splice(insertionPoint(this.queue, want.priority), 0, waiter);
      CancellationScope.current().cancelRequested.catch((error: unknown) => {
        const at = this.queue.indexOf(waiter);
        if (at < 0) return;
        this.queue.splice(at, 1);
        reject(error);
      });
    });
  }

  /** {@link take}, when it can be decided now; undefined (and nothing queued) when it would wait. */
  tryTake(want: Want): Grant | undefined {
    if (this.queue.length > 0 || this.inFlight >= this.cap() || (want.first && this.paused()))
      return undefined;
    return this.grant(want.deferrable);
  }

  release(): void {
    this.inFlight -= 1;
    this.wake();
  }

  /** Resolves `taskId`'s queued wait, if any, as `withdrawn`. */
  withdraw(taskId: string): void {
    const at = this.queue.findIndex((waiter) => waiter.taskId === taskId);
    if (at < 0) return;
    this.queue.splice(at, 1)[0]!.resolve('withdrawn');
  }

  /** Grants queued waiters once this activation's code ran on; call it when the limit rose or admission closed. */
  wake(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    // A condition is first evaluated at once, then only once the activation's code has run on: false first.
    let evaluated = false;
    const ranOn = () => evaluated || !(evaluated = true);
    // Not cancellable: the step whose release asked for it may be the one `cancelStep` ends.
    void CancellationScope.nonCancellable(() => condition(ranOn)).then(() => {
      this.dispatching = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    const paused = this.paused();
    for (let i = 0; i < this.queue.length && this.inFlight < this.cap();) {
      const waiter = this.queue[i]!;
      if (waiter.first && paused) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      waiter.resolve(this.grant(waiter.deferrable));
    }
    if (this.admits()) return;
    // Admission closed: every deferrable waiter is told now, not when a slot frees.
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const waiter = this.queue[i]!;
      if (!waiter.deferrable) continue;
      this.queue.splice(i, 1);
      waiter.resolve('deferred');
    }
  }

  private grant(deferrable: boolean): Grant {
    if (deferrable && !this.admits()) return 'deferred';
    this.inFlight += 1;
    return 'granted';
  }

  private cap(): number {
    return Math.min(MAX_ACTIVITIES_IN_FLIGHT, Math.max(1, Math.floor(this.limit())));
  }
}

/** The index after every waiter that goes before or with `priority` (equal ones keep their arrival order). */
function insertionPoint(queue: readonly Waiter[], priority: Priority): number {
  let low = 0;
  let high = queue.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compare(queue[mid]!.priority, priority) <= 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

function compare(a: Priority, b: Priority): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
