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

/**
 * One entry of the queue: a single step's wait, or a batch of wants granted
 * one by one in their order (a step's delegated tasks), so that a queued
 * want costs neither a promise nor a cancellation handler of its own.
 */
interface Waiter {
  /** In priority order; the waiter queues at `wants[next]`'s priority. */
  readonly wants: readonly Want[];
  next: number;
  /** Wants after `next` already told they were withdrawn. */
  readonly gone: Set<number>;
  deliver(index: number, grant: Grant): void;
  /** Every want not yet delivered, when the scope the waiter queued in is cancelled. */
  cancel(error: unknown): void;
  /** The waiters queued in the same scope, which that scope's one cancellation handler ends. */
  inScope?: Set<Waiter>;
}

/**
 * The most activities one execution keeps in flight, whatever `concurrency`
 * says; a run that asks for more is split across executions (./partition).
 * Why 50: the server fails a workflow task while more than 100 events wait
 * for it (`history.maximumBufferedEventsBatch`), and each activity that ends
 * while a task runs adds two (started, then completed or failed), so the
 * completions of 50 never pass it, however long a task takes on a loaded
 * worker. A signal or timer in the same window can; the server then retries
 * the task. At 100 in flight, instant steps had 4 to 7 tasks failed per 1,700
 * steps this way, and each failure replays the whole history.
 */
export const MAX_ACTIVITIES_IN_FLIGHT = 50;

export class RunSlots {
  private inFlight = 0;
  private readonly queue: Waiter[] = [];
  private dispatching = false;
  /**
   * Where the dispatch waits: not cancellable, since the step whose release
   * asked for it may be the one `cancelStep` ends. One for the run, not one
   * per activation: a scope costs three promises, each with its stack trace.
   */
  private readonly dispatchScope = new CancellationScope({ cancellable: false });
  /**
   * The waiters queued in each scope, so a scope gets one cancellation
   * handler, not one per waiter: a handler on a scope that is never cancelled
   * is a promise that never settles, which the SDK keeps, with its stack
   * trace, until the execution ends (a batch's steps each queued one).
   */
  private readonly waitersIn = new WeakMap<CancellationScope, Set<Waiter>>();

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
      this.enqueue({
        wants: [want],
        next: 0,
        gone: new Set(),
        deliver: (_, grant) => resolve(grant),
        cancel: reject,
      });
    });
  }

  /** {@link take}, when it can be decided now; undefined (and nothing queued) when it would wait. */
  tryTake(want: Want): Grant | undefined {
    if (this.queue.length > 0 || this.inFlight >= this.cap() || (want.first && this.paused()))
      return undefined;
    return this.grant(want.deferrable);
  }

  /**
   * Queues `wants` (in priority order) as one entry, for a caller that found
   * no slot free for the first of them ({@link tryTake}): each grant goes to
   * `deliver` with the want's index as slots free. It is delivered from the
   * dispatch, in whichever cancellation scope woke it, so `deliver` must not
   * rely on the current scope (the caller's is {@link CancellationScope.current}
   * now). When the caller's scope is cancelled, every want not yet delivered
   * goes to `cancel`.
   */
  takeEach(
    wants: readonly Want[],
    deliver: (index: number, grant: Grant) => void,
    cancel: (index: number, error: unknown) => void,
  ): void {
    if (wants.length === 0) return;
    const waiter: Waiter = {
      wants,
      next: 0,
      gone: new Set(),
      deliver,
      cancel: (error) => {
        for (let index = waiter.next; index < wants.length; index++)
          if (!waiter.gone.has(index)) cancel(index, error);
      },
    };
    this.enqueue(waiter);
  }

  release(): void {
    this.inFlight -= 1;
    this.wake();
  }

  /** Resolves `taskId`'s queued wait, if any, as `withdrawn`. */
  withdraw(taskId: string): void {
    for (const [at, waiter] of this.queue.entries()) {
      const index = waiter.wants.findIndex((want, i) => i >= waiter.next && want.taskId === taskId);
      if (index < 0 || waiter.gone.has(index)) continue;
      if (index === waiter.next) this.advance(at);
      else waiter.gone.add(index);
      waiter.deliver(index, 'withdrawn');
      return;
    }
  }

  /** Grants queued waiters once this activation's code ran on; call it when the limit rose or admission closed. */
  wake(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    // A condition is first evaluated at once, then only once the activation's code has run on: false first.
    let evaluated = false;
    const ranOn = () => evaluated || !(evaluated = true);
    void this.dispatchScope
      .run(() => condition(ranOn))
      .then(() => {
        this.dispatching = false;
        this.dispatch();
      });
  }

  private enqueue(waiter: Waiter): void {
    this.insert(waiter);
    const scope = CancellationScope.current();
    let inScope = this.waitersIn.get(scope);
    if (!inScope) {
      const waiters = (inScope = new Set());
      this.waitersIn.set(scope, waiters);
      scope.cancelRequested.catch((error: unknown) => {
        for (const queued of [...waiters]) {
          this.leave(queued);
          this.queue.splice(this.queue.indexOf(queued), 1);
          queued.cancel(error);
        }
      });
    }
    inScope.add(waiter);
    waiter.inScope = inScope;
  }

  /** `waiter` is out of the queue for good: its scope's cancellation no longer concerns it. */
  private leave(waiter: Waiter): void {
    waiter.inScope?.delete(waiter);
  }

  private insert(waiter: Waiter): void {
    this.queue.splice(insertionPoint(this.queue, waiter.wants[waiter.next]!.priority), 0, waiter);
  }

  /** Moves the waiter at `at` past its next want: out of the queue when none is left, else to its next want's place. */
  private advance(at: number): void {
    const waiter = this.queue.splice(at, 1)[0]!;
    do waiter.next += 1;
    while (waiter.gone.has(waiter.next));
    if (waiter.next < waiter.wants.length) this.insert(waiter);
    else this.leave(waiter);
  }

  private dispatch(): void {
    const paused = this.paused();
    // From the head each time: a delivery may queue new waiters before the ones skipped for the pause.
    for (let at = 0; at < this.queue.length && this.inFlight < this.cap();) {
      const waiter = this.queue[at]!;
      const index = waiter.next;
      const want = waiter.wants[index]!;
      if (want.first && paused) {
        at++;
        continue;
      }
      this.advance(at);
      waiter.deliver(index, this.grant(want.deferrable));
      at = 0;
    }
    if (this.admits()) return;
    // Admission closed: every deferrable want is told now, not when a slot frees.
    for (let at = this.queue.length - 1; at >= 0; at--) {
      const waiter = this.queue[at]!;
      for (let index = waiter.next; index < waiter.wants.length; index++) {
        if (!waiter.wants[index]!.deferrable || waiter.gone.has(index)) continue;
        waiter.gone.add(index);
        waiter.deliver(index, 'deferred');
      }
      while (waiter.gone.has(waiter.next)) waiter.next += 1;
      this.queue.splice(at, 1);
      if (waiter.next < waiter.wants.length) this.insert(waiter);
      else this.leave(waiter);
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
    if (compare(queue[mid]!.wants[queue[mid]!.next]!.priority, priority) <= 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

function compare(a: Priority, b: Priority): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
