import {
  type ChildWorkflowHandle,
  ChildWorkflowFailure,
  type Workflow,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { type RunControlState, steerPartitionSignal } from './controls';
import type { CombinatorOptions } from './inputs';
import { clampLimit, runBounded } from './pool';
import type { ToolGrant } from '../../contracts';
import { PARTITION, type RunContext } from './run-context';
import { MAX_ACTIVITIES_IN_FLIGHT } from './slots';
import { toolGrantSignal } from './tool-grants';

/**
 * Steps one execution takes before a run is split into child workflows that
 * run side by side. How many steps an execution can hold depends on what
 * they write to history (a step that delegates writes many times what one
 * that does not), so each execution also stops taking new steps when its
 * history fills, and continues as new (./history); this bound is the unit of
 * parallelism across executions.
 */
export const DEFAULT_MAX_STEPS_PER_RUN = 1000;

export interface PartitionPlan<I, R> {
  items: readonly I[];
  /** Items per child execution. */
  perChild: number;
  /** The run's overall limit; children share it so the total in flight never exceeds it. */
  limit: number;
  workflowType: string;
  /** A child's input, at its share of the limit; `paused` is added when the run is paused. */
  childInput: (slice: I[], offset: number, concurrency: number) => object;
  /** What a child that failed as a whole (e.g. terminated) yields instead of its result. */
  onChildFailure: (slice: I[], offset: number, message: string) => R;
  /** Set when a child's result is one outcome per step: progress then counts them. */
  stepOutcomes?: boolean;
  /** Which of the run's steps a child runs, for progress; default: its slice's place among the items. */
  span?: (slice: I[], offset: number) => { first: number; count: number };
}

/**
 * Runs `items` as child workflows of `perChild` items each: each child's
 * result, in order, which together are what a single execution would give. Children in flight times
 * each child's limit stays within `limit`; a limit below the child count runs
 * children one by one, each serially, exactly as a limit of 1 would.
 *
 * Only as many children run at once as fill the limit (see childrenFilling):
 * a running child holds its slice's specs and outcomes in the worker.
 *
 * Steering the parent steers its children: a child starts paused while the
 * run is, and `pause`, `resume` and `setConcurrency` reach every running child
 * as a signal. The number of children in flight stays as started; a new limit
 * changes each one's share (never below one step).
 */
export async function runPartitioned<I, R>(context: RunContext, plan: PartitionPlan<I, R>): Promise<R[]> {
  const slices: { slice: I[]; offset: number }[] = [];
  for (let offset = 0; offset < plan.items.length; offset += plan.perChild) {
    slices.push({ slice: plan.items.slice(offset, offset + plan.perChild), offset });
  }
  const limit = clampLimit(plan.limit);
  // Enough children that each one's share fits what one execution keeps in flight.
  const inFlight = Math.min(
    slices.length,
    Math.max(childrenFilling(limit, plan.perChild), Math.ceil(limit / MAX_ACTIVITIES_IN_FLIGHT)),
  );
  const { board, controls } = context;
  const group = context.childIdPrefix(workflowInfo().workflowId, PARTITION);
  const entries = slices.map(({ slice, offset }, k) =>
    board.addPartition({
      workflowId: `${group}-${k}`,
      ...(plan.span?.(slice, offset) ?? { first: offset, count: slice.length }),
      ...(plan.stepOutcomes ? { outcomes: { succeeded: 0, failed: 0 } } : {}),
    }),
  );
  const steering = (): Required<RunControlState> => ({
    paused: controls.paused,
    concurrency: Math.floor((controls.concurrency ?? limit) / inFlight) || 1,
  });
  // Each running child, and what sends it the run's steering.
  const running = new Map<string, { child: ChildWorkflowHandle<Workflow>; steer: () => void }>();
  const stopSteering = controls.onChange(() => running.forEach(({ steer }) => steer()));
  const grant = (child: ChildWorkflowHandle<Workflow>, given: ToolGrant) =>
    void child.signal(toolGrantSignal, given).catch(() => undefined);
  const stopGranting = context.toolGrants.onAdd((given) =>
    running.forEach(({ child }) => grant(child, given)),
  );

  const runChild = async (workflowId: string, slice: I[], offset: number): Promise<unknown> => {
    const sent = steering();
    const input = {
      ...plan.childInput(slice, offset, sent.concurrency),
      ...(sent.paused ? { paused: true } : {}),
    };
    const granted = context.toolGrants.count;
    const child = await startChild(plan.workflowType, { workflowId, args: [input] });
    const steer = steerer(child, steering);
    running.set(workflowId, { child, steer });
    // Steering and grants that came while the child started reached no child.
    const now = steering();
    if (now.paused !== sent.paused || now.concurrency !== sent.concurrency) steer();
    for (const given of context.toolGrants.all().slice(granted)) grant(child, given);
    try {
      return await child.result();
    } finally {
      running.delete(workflowId);
    }
  };

  const settled = await runBounded(slices, inFlight, async ({ slice, offset }, k) => {
    const entry = entries[k]!;
    entry.status = 'running';
    let result: R;
    try {
      result = (await runChild(entry.workflowId, slice, offset)) as R;
      entry.status = 'succeeded';
    } catch (error) {
      if (!(error instanceof ChildWorkflowFailure)) throw error;
      const message = `partition ${entry.workflowId} failed: ${error.cause?.message ?? error.message}`;
      Object.assign(entry, { status: 'failed', error: message });
      result = plan.onChildFailure(slice, offset, message);
    }
    if (entry.outcomes) {
      const outcomes = result as unknown as { success: boolean }[];
      const succeeded = outcomes.filter((outcome) => outcome.success).length;
      entry.outcomes = { succeeded, failed: outcomes.length - succeeded };
    }
    return result;
  }).finally(() => {
    stopSteering();
    stopGranting();
  });
  return settled.map((result) => {
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

/** What of a run's options decides its split; a budget binds one execution, so concurrency alone never splits a budgeted run. */
export type SplitOptions = Pick<CombinatorOptions, 'maxStepsPerRun' | 'concurrency' | 'budget'>;

/**
 * Items per child execution when the run is split, or undefined when one
 * execution holds it. A run splits when its steps are more than one
 * execution takes (`maxStepsPerRun`), or when its concurrency is more than
 * one execution keeps in flight ({@link MAX_ACTIVITIES_IN_FLIGHT}): then
 * into as many children as that concurrency needs, each with its share.
 * A run of no more items than that cap never splits by concurrency, and its
 * limit is not asked for here (nor its first commands changed by asking).
 * `stepsPerItem`: steps each item takes, one after another (a pipeline's stages).
 */
export async function itemsPerChild(
  context: RunContext,
  items: number,
  options: SplitOptions,
  stepsPerItem = 1,
): Promise<number | undefined> {
  const maxStepsPerRun = options.maxStepsPerRun ?? DEFAULT_MAX_STEPS_PER_RUN;
  const bySteps = Math.max(1, Math.floor(maxStepsPerRun / Math.max(1, stepsPerItem)));
  const byConcurrency =
    options.budget !== undefined || items <= MAX_ACTIVITIES_IN_FLIGHT
      ? items
      : Math.ceil(items / Math.ceil((await context.limit(options.concurrency)) / MAX_ACTIVITIES_IN_FLIGHT));
  const perChild = Math.min(bySteps, byConcurrency);
  return perChild < items ? perChild : undefined;
}
