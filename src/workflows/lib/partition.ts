import {
  type ChildWorkflowHandle,
  ChildWorkflowFailure,
  type Workflow,
  patched,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { type RunControlState, runControls, steerPartitionSignal } from './controls';
import { clampLimit, runBounded } from './pool';
import { progressBoard } from './progress';

/**
 * One Temporal execution is capped at ~51,200 history events / 50 MB and
 * 2,000 pending activities. A step costs roughly ten events (its activity,
 * the workflow task that reacts to it, its journal write), so each execution
 * keeps to this many steps and bigger runs are split into child workflows (or,
 * for resumable runs, continued as new).
 */
export const DEFAULT_MAX_STEPS_PER_RUN = 1000;

export interface PartitionPlan<I> {
  /** Taken: emptied as it is sliced, so each slice can go once its child is done with it. */
  items: I[];
  /** Items per child execution. */
  perChild: number;
  /** The run's overall limit; children share it so the total in flight never exceeds it. */
  limit: number;
  workflowType: string;
  /** A child's input, at its share of the limit; `paused` is added when the run is paused. */
  childInput: (slice: I[], offset: number, concurrency: number) => object;
  /** What a child that failed as a whole (e.g. terminated) yields for each of its items. */
  onChildFailure: (slice: I[], offset: number, message: string) => unknown[];
  /** Set when a child's result is one outcome per step: progress then counts them. */
  stepOutcomes?: boolean;
}

/**
 * Runs `items` as child workflows of `perChild` items each, in order, with
 * the same results a single execution would give. Children in flight times
 * each child's limit stays within `limit`; a limit below the child count runs
 * children one by one, each serially, exactly as a limit of 1 would.
 *
 * Only as many children run at once as fill the limit (see childrenFilling):
 * a running child holds its slice's specs and outcomes in the worker, so
 * starting every child at once held the whole run's payloads twice (a
 * 10,000-step run of 2 KB prompts at a limit of 100 ran all ten children at
 * ten steps each). Patched: runs started before started them all.
 *
 * Nor does the parent keep a slice once its child settled: a workflow's
 * frames stay in the worker until it ends, so the run's specs would too.
 *
 * Steering the parent steers its children: a child starts paused while the
 * run is, and `pause`, `resume` and `setConcurrency` reach every running child
 * as a signal. The number of children in flight stays as started; a new limit
 * changes each one's share (never below one step).
 */
export async function runPartitioned<I, O>(plan: PartitionPlan<I>): Promise<O[]> {
  const slices: { slice: I[]; offset: number }[] = [];
  for (let offset = 0; offset < plan.items.length; offset += plan.perChild) {
    slices.push({ slice: plan.items.slice(offset, offset + plan.perChild), offset });
  }
  plan.items.length = 0;
  const limit = clampLimit(plan.limit);
  const inFlight = Math.min(
    slices.length,
    patched('tao-partition-share') ? childrenFilling(limit, plan.perChild) : limit,
  );
  const board = progressBoard();
  const group = childIdPrefix('part');
  const entries = slices.map(({ slice, offset }, k) =>
    board.addPartition({
      workflowId: `${group}-${k}`,
      first: offset,
      count: slice.length,
      ...(plan.stepOutcomes ? { outcomes: { succeeded: 0, failed: 0 } } : {}),
    }),
  );
  const controls = runControls();
  const steering = (): Required<RunControlState> => ({
    paused: controls.paused,
    concurrency: Math.floor((controls.concurrency ?? limit) / inFlight) || 1,
  });
  const running = new Map<string, () => void>();
  controls.onChange(() => running.forEach((steer) => steer()));

  const runChild = async (workflowId: string, slice: I[], offset: number): Promise<unknown> => {
    const sent = steering();
    const input = {
      ...plan.childInput(slice, offset, sent.concurrency),
      ...(sent.paused ? { paused: true } : {}),
    };
    const child = await startChild(plan.workflowType, { workflowId, args: [input] });
    // The child's history holds its input now. The SDK keeps a started child's arguments until the parent
    // ends (its cancellation hook closes over them), so emptied they no longer keep the slice's specs.
    for (const key of Object.keys(input)) delete (input as Record<string, unknown>)[key];
    const steer = steerer(child, steering);
    running.set(workflowId, steer);
    // Steering that came while the child started reached no child.
    const now = steering();
    if (now.paused !== sent.paused || now.concurrency !== sent.concurrency) steer();
    try {
      return await child.result();
    } finally {
      running.delete(workflowId);
    }
  };

  const settled = await runBounded(
    slices,
    inFlight,
    async (part, k) => {
      const { slice, offset } = part;
      part.slice = [];
      const entry = entries[k]!;
      entry.status = 'running';
      let result: O[];
      try {
        result = (await runChild(entry.workflowId, slice, offset)) as O[];
        entry.status = 'succeeded';
      } catch (error) {
        if (!(error instanceof ChildWorkflowFailure)) throw error;
        const message = `partition ${entry.workflowId} failed: ${error.cause?.message ?? error.message}`;
        Object.assign(entry, { status: 'failed', error: message });
        result = plan.onChildFailure(slice, offset, message) as O[];
      }
      if (entry.outcomes) {
        const succeeded = (result as { success: boolean }[]).filter((outcome) => outcome.success).length;
        entry.outcomes = { succeeded, failed: result.length - succeeded };
      }
      return result;
    },
    { fixed: true },
  );
  return settled.flatMap((result) => {
    if (!result.ok) throw result.error;
    return result.value;
  });
}

/**
 * Children enough for `limit` steps, and one more whose first steps overlap
 * another's last when the limit divides evenly among them: each child's share
 * is rounded down, so an uneven split would leave slots unused for the run.
 */
function childrenFilling(limit: number, perChild: number): number {
  const filling = Math.ceil(limit / perChild);
  return limit % (filling + 1) === 0 ? filling + 1 : filling;
}

/**
 * Sends `child` the run's steering as it is now, one signal at a time: two
 * signals in flight to one child may arrive in either order, so a `pause`
 * sent before a `resume` could land last and leave the child paused. A change
 * while one is in flight sends the state as it is once that one landed.
 */
function steerer(child: ChildWorkflowHandle<Workflow>, steering: () => RunControlState): () => void {
  let inFlight = false;
  let again = false;
  const send = (): void => {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    // A child that finished meanwhile needs no steering.
    void child
      .signal(steerPartitionSignal, steering())
      .catch(() => undefined)
      .then(() => {
        inFlight = false;
        if (again) {
          again = false;
          send();
        }
      });
  };
  return send;
}

let childGroups = 0;

/**
 * A fresh, deterministic child id prefix under this execution, so two big
 * calls in one user workflow never collide. Module state is per execution.
 */
export function childIdPrefix(kind: string): string {
  childGroups += 1;
  return `${workflowInfo().workflowId}/${kind}${childGroups}`;
}

/** Items per execution for `stepsPerItem` steps each, never below one item. */
export function itemsPerRun(maxStepsPerRun: number, stepsPerItem: number): number {
  return Math.max(1, Math.floor(maxStepsPerRun / Math.max(1, stepsPerItem)));
}
