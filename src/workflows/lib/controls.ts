/**
 * Steering a run while it runs: Temporal Updates that pause and resume it,
 * change its concurrency, and cancel one step. They act on the execution that
 * holds the steps; the pool (./pool) and each step (./steps) consult this
 * state, and it is all workflow state, so it replays and survives workers. A
 * run split into child workflows passes pause, resume and its concurrency on
 * to them (./partition); a step is cancelled in the child that holds it.
 *
 * - `pause`: no new step starts; running steps finish. `resume` undoes it.
 * - `setConcurrency { limit }`: the new bound on steps (chains, for a pipeline)
 *   in flight; raising it starts more at once, lowering it lets running ones finish.
 * - `cancelStep { taskId }`: a running step's activity is cancelled (the
 *   executor's signal aborts, so an llm request is aborted and a command's
 *   process tree killed); a pending one never starts. Either way its outcome
 *   is `success: false`, "cancelled by user", and the rest of the run goes on.
 *
 * Validators refuse what cannot apply (an unknown step, one already finished,
 * a bad limit) with a message, so the caller hears it and history records nothing.
 */
import { CancellationScope, condition, defineSignal, defineUpdate, setHandler } from '@temporalio/workflow';
import { progressBoard } from './progress';

export interface RunControlState {
  paused: boolean;
  /** The limit set by `setConcurrency`, when one was. */
  concurrency?: number;
}

export const pauseUpdate = defineUpdate<RunControlState>('pause');
export const resumeUpdate = defineUpdate<RunControlState>('resume');
export const setConcurrencyUpdate = defineUpdate<RunControlState, [{ limit: number }]>('setConcurrency');
export const cancelStepUpdate = defineUpdate<
  { taskId: string; was: 'running' | 'pending' },
  [{ taskId: string }]
>('cancelStep');

/**
 * How a partitioned run passes `pause`, `resume` and `setConcurrency` on to
 * its running child workflows (./partition): workflows cannot send each other
 * Updates, and a signal needs no answer. It carries the child's whole state.
 */
export const steerPartitionSignal = defineSignal<[RunControlState]>('steerPartition');

export const CANCELLED_BY_USER = 'cancelled by user';

/** The patch behind which runs obey these controls (runs started before it replay without). */
export const RUN_CONTROLS = 'run-controls';

export class RunControls implements RunControlState {
  paused = false;
  concurrency?: number;
  /** Steps cancelled before they started: they never will. */
  private readonly cancelledPending = new Set<string>();
  /** The scope each running step's activity runs in, by taskId. */
  private readonly running = new Map<string, CancellationScope>();
  /** Scopes whose step ended uncancelled, by the scope they were made in, for the next step to reuse. */
  private readonly idle = new Map<CancellationScope, CancellationScope[]>();
  /** The scopes pool lanes run in (see {@link runLane}), whose steps run their activities in them. */
  private readonly lanes = new Set<CancellationScope>();
  private readonly listeners: (() => void)[] = [];

  /** Calls `listener` after every change of `paused` or `concurrency`. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Applies what `state` sets well; a signal's payload is not validated by Temporal. */
  set(state: Partial<RunControlState>): RunControlState {
    if (typeof state.paused === 'boolean') this.paused = state.paused;
    const limit = state.concurrency;
    if (typeof limit === 'number' && Number.isInteger(limit) && limit >= 1) this.concurrency = limit;
    for (const listener of this.listeners) listener();
    return this.state();
  }

  state(): RunControlState {
    return {
      paused: this.paused,
      ...(this.concurrency !== undefined ? { concurrency: this.concurrency } : {}),
    };
  }

  /** Whether `taskId` was cancelled before it started. */
  cancelledBeforeStart(taskId: string): boolean {
    return this.cancelledPending.has(taskId);
  }

  /** Resolves once the run is not paused, or `taskId` is cancelled. */
  async mayStart(taskId: string): Promise<void> {
    if (this.paused) await waitFor(() => !this.paused || this.cancelledPending.has(taskId));
  }

  /**
   * Runs `work` (a step's activity) in a scope `cancelStep` can cancel. Resolves
   * to `cancelled` when it was, so the caller can tell that from a workflow cancel.
   */
  async cancellable<T>(taskId: string, work: () => Promise<T>): Promise<{ value: T } | 'cancelled'> {
    const scope = new CancellationScope();
    this.running.set(taskId, scope);
    try {
      return { value: await scope.run(work) };
    } catch (error) {
      if (cancelledAlone(scope)) return 'cancelled';
      throw error;
    } finally {
      this.running.delete(taskId);
    }
  }

  /**
   * Runs a pool lane, one step after another, in a scope of its own: each step
   * runs its activity in it as it is (see {@link enter}), which spares every
   * step a `CancellationScope.run`, two promises the SDK captures a stack for.
   * A step cancelled alone cancels the lane's scope; `lane` then returns (see
   * {@link laneCancelled}) and goes on in a fresh one. Work a step leaves
   * running past its end must not start in the lane (see ./resumable's journal).
   * Runs started before `chained-lanes` replay through this; later ones run
   * their lanes through {@link chainLane}.
   */
  async runLane(lane: () => Promise<void>): Promise<void> {
    for (;;) {
      const scope = new CancellationScope();
      this.lanes.add(scope);
      try {
        await scope.run(lane);
      } finally {
        this.lanes.delete(scope);
      }
      if (!cancelledAlone(scope)) return;
    }
  }

  /**
   * {@link runLane} as one promise chained on the scope's run (chained-lanes),
   * where an async function and the caller's `catch` cost three: the lane's
   * error goes to `onError`, and the promise returned always resolves.
   */
  chainLane(lane: () => Promise<void>, onError: (error: unknown) => void): Promise<void> {
    const scope = new CancellationScope();
    this.lanes.add(scope);
    return scope.run(lane).then(
      () => {
        this.lanes.delete(scope);
        return cancelledAlone(scope) ? this.chainLane(lane, onError) : undefined;
      },
      (error: unknown) => {
        this.lanes.delete(scope);
        onError(error);
      },
    );
  }

  /** Whether the lane this runs in had a step cancelled alone, so it must go on in a fresh scope. */
  laneCancelled(): boolean {
    const scope = CancellationScope.current();
    return this.lanes.has(scope) && cancelledAlone(scope);
  }

  /**
   * The scope `taskId`'s activity is to run in, for a caller that does what
   * {@link cancellable} does inline (the `lean-step-frames` and `lane-scopes`
   * paths): its lane's own, when it runs in one, else one made for it. A scope
   * whose step ended uncancelled is reused: each costs the SDK three promises
   * to make, and a scope cancels only the activities still running in it.
   */
  enter(taskId: string): CancellationScope {
    const parent = CancellationScope.current();
    const scope = this.lanes.has(parent)
      ? parent
      : (this.idle.get(parent)?.pop() ?? new CancellationScope({ parent, cancellable: true }));
    this.running.set(taskId, scope);
    return scope;
  }

  leave(taskId: string): void {
    const scope = this.running.get(taskId);
    this.running.delete(taskId);
    if (!scope?.parent || scope.consideredCancelled || this.lanes.has(scope)) return;
    const idle = this.idle.get(scope.parent) ?? [];
    idle.push(scope);
    this.idle.set(scope.parent, idle);
  }

  cancel(taskId: string): 'running' | 'pending' {
    const scope = this.running.get(taskId);
    if (scope) {
      scope.cancel();
      return 'running';
    }
    this.cancelledPending.add(taskId);
    return 'pending';
  }
}

/** Whether `scope` failed because `cancelStep` cancelled it, rather than the whole workflow. */
export function cancelledAlone(scope: CancellationScope): boolean {
  return scope.consideredCancelled && !scope.parent?.consideredCancelled;
}

/** Runs `work` in `scope`, inline when that is the current scope already. */
export function runIn<T>(scope: CancellationScope, work: () => Promise<T>): Promise<T> {
  return scope === CancellationScope.current() ? work() : scope.run(work);
}

/** `condition(fn)`, but a cancelled workflow stops waiting (a bare condition would wait on). */
export function waitFor(fn: () => boolean): Promise<void> {
  return Promise.race([condition(fn), CancellationScope.current().cancelRequested]);
}

let controls: RunControls | undefined;

/** This execution's controls, with their update handlers registered on first use. */
export function runControls(): RunControls {
  if (controls) return controls;
  const created = new RunControls();
  controls = created;
  const board = progressBoard();
  board.steering = () => created.state();
  setHandler(pauseUpdate, () => created.set({ paused: true }));
  setHandler(resumeUpdate, () => created.set({ paused: false }));
  setHandler(steerPartitionSignal, (state) => void created.set(state));
  setHandler(setConcurrencyUpdate, ({ limit }) => created.set({ concurrency: limit }), {
    validator: (arg) => {
      const limit = (arg as { limit?: unknown } | undefined)?.limit;
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
        throw new Error(`setConcurrency needs { "limit": <a whole number ≥ 1> }, got ${JSON.stringify(arg)}`);
      }
    },
  });
  setHandler(cancelStepUpdate, ({ taskId }) => ({ taskId, was: created.cancel(taskId) }), {
    validator: (arg) => {
      const taskId = (arg as { taskId?: unknown } | undefined)?.taskId;
      if (typeof taskId !== 'string' || taskId === '') {
        throw new Error(`cancelStep needs { "taskId": "<step>" }, got ${JSON.stringify(arg)}`);
      }
      const entry = board.latest(taskId);
      if (!entry) throw new Error(`no step "${taskId}" in this run`);
      if (entry.status !== 'pending' && entry.status !== 'running') {
        throw new Error(`step "${taskId}" is ${entry.status}, not pending or running; nothing to cancel`);
      }
      if (created.cancelledBeforeStart(taskId)) throw new Error(`step "${taskId}" is already cancelled`);
    },
  });
  return created;
}
