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
import { CancellationScope, condition, defineSignal, defineUpdate } from '@temporalio/workflow';

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

export class RunControls implements RunControlState {
  paused = false;
  concurrency?: number;
  /** Steps cancelled before they started: they never will. */
  private readonly cancelledPending = new Set<string>();
  /** The scope each running step's attempts run in (its own, see ./steps), by taskId. */
  private readonly running = new Map<string, CancellationScope>();
  private readonly changeListeners: (() => void)[] = [];
  private readonly cancelListeners: ((taskId: string) => void)[] = [];

  /** Calls `listener` after every change of `paused` or `concurrency`, until the returned function is called. */
  onChange(listener: () => void): () => void {
    return subscribe(this.changeListeners, listener);
  }

  /** Calls `listener` with the task id of each pending step cancelled, until the returned function is called. */
  onCancelPending(listener: (taskId: string) => void): () => void {
    return subscribe(this.cancelListeners, listener);
  }

  /** Applies what `state` sets well; a signal's payload is not validated by Temporal. */
  set(state: Partial<RunControlState>): RunControlState {
    if (typeof state.paused === 'boolean') this.paused = state.paused;
    const limit = state.concurrency;
    if (typeof limit === 'number' && Number.isInteger(limit) && limit >= 1) this.concurrency = limit;
    for (const listener of this.changeListeners) listener();
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

  /** Marks `taskId` as running in `scope`, its own (./steps): `cancelStep` cancels that scope alone. */
  enter(taskId: string, scope: CancellationScope): void {
    this.running.set(taskId, scope);
  }

  leave(taskId: string): void {
    this.running.delete(taskId);
  }

  cancel(taskId: string): 'running' | 'pending' {
    const scope = this.running.get(taskId);
    if (scope) {
      scope.cancel();
      return 'running';
    }
    this.cancelledPending.add(taskId);
    // A step queued for a slot (a paused run's, or a full one's) settles now, not when a slot would free.
    for (const listener of this.cancelListeners) listener(taskId);
    return 'pending';
  }
}

/** Adds `listener` to `listeners`; the returned function takes it out again. */
export function subscribe<L>(listeners: L[], listener: L): () => void {
  listeners.push(listener);
  return () => {
    const at = listeners.indexOf(listener);
    if (at >= 0) listeners.splice(at, 1);
  };
}

/** Whether `scope` failed because `cancelStep` cancelled it, rather than the whole workflow. */
export function cancelledAlone(scope: CancellationScope): boolean {
  return scope.consideredCancelled && !scope.parent?.consideredCancelled;
}

/** `condition(fn)`, but a cancelled workflow stops waiting (a bare condition would wait on). */
export function waitFor(fn: () => boolean): Promise<void> {
  return Promise.race([condition(fn), CancellationScope.current().cancelRequested]);
}
