import { CancellationScope, executeChild, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { CheckpointIndex, CheckpointLoad, CheckpointStepKey, TaoActivities } from '../../activity-api';
import {
  type AgentStepSpec,
  type AgentStepSpecInput,
  CheckpointIdSchema,
  type CheckpointStep,
  type StepOutcome,
  failedOutcome,
} from '../../contracts';
import { type ResumableOptions, activityFailureMessage, invalidInput, parseSpecs } from './inputs';
import { DEFAULT_MAX_STEPS_PER_RUN, itemsPerChild, runPartitioned } from './partition';
import { settleAll } from './pool';
import { settledOutcome } from './progress';
import { type RunContext, createRunContext } from './run-context';
import { specDigest } from './spec-digest';
import { type ChildJournal, openCall } from './step-call';
import { isDeferred, runStep, topLevel } from './steps';

// Store calls are quick; a store that stays down must not hold the run hostage (SPEC: fail-safe).
const store = proxyActivities<TaoActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3, initialInterval: '500 milliseconds' },
});

/**
 * The checkpoint journal of one execution. Saves are serialized and
 * coalesced: at most one is in flight, and it carries every step recorded
 * since the last acknowledged save, on top of what the store held when the
 * execution started (`base`), so the stored checkpoint only ever grows, however
 * steps interleave. A failed save is retried with the next one. If the store
 * lost the checkpoint meanwhile, this execution's own steps are sent again.
 */
class CheckpointJournal {
  private tail: Promise<void> = Promise.resolve();
  private flushQueued = false;
  private readonly recorded = new Map<string, CheckpointStep>();
  /** Steps the store holds, as far as this journal knows. */
  private held: number;
  /** Of the steps recorded here, how many the store has acknowledged. */
  private acknowledged = 0;
  /**
   * Where saves run: the scope the journal was made in, not the pool lane of
   * the step whose record starts one, which `cancelStep` may cancel.
   */
  private readonly scope = CancellationScope.current();

  constructor(
    private readonly checkpointId: string,
    /** Steps the store held when this execution loaded it. */
    baseCount: number,
    private readonly warn: (message: string) => void,
  ) {
    this.held = baseCount;
  }

  record(outcome: StepOutcome, specDigest: string | undefined): void {
    this.recorded.set(outcome.taskId, {
      taskId: outcome.taskId,
      outcome,
      ...(specDigest !== undefined ? { specDigest } : {}),
    });
    if (this.flushQueued) return;
    this.flushQueued = true;
    this.tail = this.tail.then(() => this.scope.run(() => this.flush()));
  }

  private async flush(): Promise<void> {
    this.flushQueued = false;
    const own = [...this.recorded.values()];
    try {
      let result = await store.saveCheckpoint(this.checkpointId, {
        savedCount: this.held,
        steps: own.slice(this.acknowledged),
      });
      this.held += own.length - this.acknowledged;
      if (result === 'missing-base') {
        result = await store.saveCheckpoint(this.checkpointId, { savedCount: 0, steps: own });
        this.held = own.length;
      }
      if (result === 'stale')
        this.warn('checkpoint save refused as stale: another writer holds newer progress');
      this.acknowledged = own.length;
    } catch (error) {
      this.warn(`checkpoint save failed (run continues): ${activityFailureMessage(error)}`);
    }
  }

  drained(): Promise<void> {
    return this.tail;
  }
}

/** The store's answer; a store error reads as an unreadable checkpoint. */
async function loadCompleted<T extends CheckpointLoad | CheckpointIndex>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    return { status: 'unreadable', reason: `store error: ${activityFailureMessage(error)}` } as T;
  }
}

/**
 * Fills in the outcomes of the steps served from the checkpoint, which a
 * window loads only by key (so a run of N windows moves each outcome through
 * history once, not N/2 times), from one full load. A step the
 * store no longer holds (the checkpoint was deleted under the run) is reported
 * as such rather than passed off as done.
 */
async function fetchServedOutcomes(
  checkpointId: string,
  done: Map<string, StepOutcome | undefined>,
  shared: boolean,
): Promise<void> {
  const served = [...done].filter(([, outcome]) => !outcome).map(([taskId]) => taskId);
  const full = await loadCompleted(() =>
    shared ? store.loadCheckpoint(checkpointId, served) : store.loadCheckpoint(checkpointId),
  );
  const outcomes = new Map(full.status === 'loaded' ? full.steps.map((s) => [s.taskId, s.outcome]) : []);
  for (const [taskId, outcome] of done) {
    if (outcome) continue;
    const loaded = outcomes.get(taskId);
    if (loaded) done.set(taskId, loaded);
    else done.delete(taskId);
  }
}

/**
 * Combinator 3: the barrier, journaled to the `SessionStore` under
 * `checkpointId` so a new execution, on any worker, resumes where an
 * interrupted one stopped. Only successful steps are recorded (a failed one
 * retries on resume); full success deletes the checkpoint. A run bigger than
 * one execution holds (see itemsPerChild) runs as a child
 * `resumableParallelWorkflow`, which splits it into partitions side by side
 * (or, with a budget, windows in turn).
 */
export async function executeStepsParallelResumable(
  specInputs: readonly AgentStepSpecInput[],
  checkpointId: string,
  options: ResumableOptions = {},
): Promise<StepOutcome[]> {
  const { context = createRunContext(), ...rest } = options;
  const specs = parseSpecs(specInputs);
  context.budget.apply(rest.budget);
  const id = CheckpointIdSchema.safeParse(checkpointId);
  if (!id.success) throw invalidInput(`checkpointId: ${id.error.issues[0]!.message}`);
  const split = await itemsPerChild(context, specs.length, rest);
  if (split !== undefined) {
    return executeChild('resumableParallelWorkflow', {
      workflowId: context.childIdPrefix(workflowInfo().workflowId, 'resumable'),
      args: [{ ...rest, specs, checkpointId }],
    });
  }
  // Nothing is deferred in a user's workflow, and the window spans every step, so this execution finishes the run.
  const run = await runResumableWindow(
    context,
    specs,
    checkpointId,
    { ...rest, maxStepsPerRun: specs.length },
    [],
    false,
  );
  return (run as { outcomes: StepOutcome[] }).outcomes;
}

/**
 * A resumable run bigger than one execution holds (see itemsPerChild) runs as
 * child partitions side by side, like a parallel run: the partitions journal to the one checkpoint
 * (appends merge), and the parent deletes it once every step succeeded.
 */
export async function runResumablePartitions(
  context: RunContext,
  specs: AgentStepSpec[],
  checkpointId: string,
  perChild: number,
  options: ResumableOptions,
  carried: readonly StepOutcome[],
): Promise<StepOutcome[]> {
  const byChild = await runPartitioned<AgentStepSpec, StepOutcome[]>(context, {
    items: specs,
    perChild,
    limit: await context.limit(options.concurrency),
    workflowType: 'resumableParallelWorkflow',
    stepOutcomes: true,
    childInput: (slice, _offset, concurrency) => {
      const ids = new Set(slice.map((spec) => spec.taskId));
      const carriedFailures = carried.filter((outcome) => ids.has(outcome.taskId));
      return {
        ...options,
        ...context.forChildren(),
        specs: slice,
        checkpointId,
        concurrency,
        sharedCheckpoint: true,
        ...(carriedFailures.length > 0 ? { carriedFailures } : {}),
      };
    },
    onChildFailure: (slice, _offset, message) => slice.map((s) => failedOutcome(s.taskId, s.agent, message)),
  });
  const outcomes = byChild.flat();
  if (outcomes.every((outcome) => outcome.success)) await deleteFinished(context, checkpointId);
  return outcomes;
}

async function deleteFinished(context: RunContext, checkpointId: string): Promise<void> {
  try {
    await store.deleteCheckpoint(checkpointId);
  } catch (error) {
    context.board.storeWarnings.push(`checkpoint delete failed: ${activityFailureMessage(error)}`);
  }
}

/**
 * The window's delegated children (./delegation) in its checkpoint, beside
 * its steps: a child the checkpoint holds for the same spec is served.
 */
function childJournal(
  checkpointId: string,
  held: readonly CheckpointStepKey[],
  journal: CheckpointJournal,
): ChildJournal {
  const digests = new Map(held.map((step) => [step.taskId, step.specDigest]));
  return {
    async served(children) {
      const ids = children
        .filter((child) => digests.get(child.taskId) === specDigest(child))
        .map((child) => child.taskId);
      if (ids.length === 0) return new Map();
      const loaded = await loadCompleted(() => store.loadCheckpoint(checkpointId, ids));
      return new Map(loaded.status === 'loaded' ? loaded.steps.map((s) => [s.taskId, s.outcome]) : []);
    },
    record: (child, outcome) => journal.record(outcome, specDigest(child)),
  };
}

export type WindowResult = { outcomes: StepOutcome[] } | { carriedFailures: StepOutcome[] };

/**
 * One execution's share of a resumable run: the steps neither checkpointed
 * nor already failed in this run (`carried`), as many as its history takes
 * (./history) when it `continuesAsNew`. When some were left, returns the
 * failures so far for the next execution (successes are in the checkpoint);
 * otherwise the merged outcomes.
 */
export async function runResumableWindow(
  context: RunContext,
  specs: readonly AgentStepSpec[],
  checkpointId: string,
  options: ResumableOptions,
  carried: readonly StepOutcome[],
  continuesAsNew: boolean,
): Promise<WindowResult> {
  const { board } = context;
  const loaded = await loadCompleted(() => store.loadCheckpointIndex(checkpointId));
  /** Fails every step without running any; the checkpoint stays for inspection. */
  const refuse = (message: string): WindowResult => {
    board.checkpointWarning = message;
    for (const spec of specs) board.addStep(spec, 'failed', message);
    return { outcomes: specs.map((spec) => failedOutcome(spec.taskId, spec.agent, message)) };
  };
  if (loaded.status === 'unreadable' && options.onUnreadableCheckpoint === 'fail') {
    // The caller prefers no work to work that may repeat paid steps.
    return refuse(`checkpoint ${checkpointId} cannot be resumed: ${loaded.reason}`);
  }
  if (loaded.status === 'unreadable') {
    // Fail-safe: do the work again rather than resume from state we cannot interpret.
    board.checkpointWarning = `checkpoint ${checkpointId} unreadable, re-running every step: ${loaded.reason}`;
  }
  // Outcomes are bound to the spec that produced them.
  const digests = new Map(specs.map((spec) => [spec.taskId, specDigest(spec)]));
  const checkpointed: CheckpointStepKey[] = loaded.status === 'loaded' ? loaded.steps : [];
  const stale = new Set(
    checkpointed
      .filter(
        (step) => step.specDigest && digests.has(step.taskId) && digests.get(step.taskId) !== step.specDigest,
      )
      .map((step) => step.taskId),
  );
  if (stale.size > 0) {
    const names = [...stale].join(', ');
    if (options.onStaleCheckpoint === 'fail') {
      return refuse(
        `checkpoint ${checkpointId} cannot be resumed: stale result identity: the spec of ${names} changed since it was checkpointed`,
      );
    }
    board.checkpointWarning = `checkpoint ${checkpointId}: the spec of ${names} changed since it was checkpointed; running ${stale.size === 1 ? 'it' : 'them'} again`;
  }
  const kept = checkpointed.filter((step) => !stale.has(step.taskId));
  // Outcomes of served steps are fetched only when the window returns them.
  const served = kept.filter((step) => digests.has(step.taskId));
  const done = new Map<string, StepOutcome | undefined>(served.map((s) => [s.taskId, undefined]));
  const failed = new Map(carried.map((outcome) => [outcome.taskId, outcome]));
  const journal = new CheckpointJournal(checkpointId, kept.length, (w) => board.storeWarnings.push(w));

  const pending = specs.filter((spec) => !done.has(spec.taskId) && !failed.has(spec.taskId));
  // At most maxStepsPerRun steps an execution, and fewer when its history fills first.
  const window = pending.slice(0, options.maxStepsPerRun ?? DEFAULT_MAX_STEPS_PER_RUN);
  for (const spec of specs) {
    if (done.has(spec.taskId)) board.addStep(spec, 'cached');
    const earlier = failed.get(spec.taskId);
    if (earlier) board.addStep(spec, 'failed', earlier.error ?? earlier.output);
  }
  const entries = window.map((spec) => board.addStep(spec, 'pending'));
  let deferred = pending.length > window.length;

  if (window.length > 0) {
    const call = await openCall(context, {
      ...options,
      journal: childJournal(checkpointId, kept, journal),
      continuesAsNew,
    });
    for (const spec of specs) call.taskIds.add(spec.taskId);
    try {
      const settled = await settleAll(window, async (spec, index) => {
        const outcome = await runStep(call, spec, entries[index]!, topLevel(index));
        if (isDeferred(outcome)) return undefined;
        if (outcome.success) journal.record(outcome, digests.get(spec.taskId));
        return outcome;
      });
      settled.forEach((result, index) => {
        const spec = window[index]!;
        if (result.ok && result.value === undefined) {
          deferred = true;
          return;
        }
        const outcome = result.ok ? result.value! : settledOutcome(result, spec, entries[index]!);
        if (!outcome.success) failed.set(spec.taskId, outcome);
        else done.set(spec.taskId, outcome);
      });
    } finally {
      call.close();
    }
  }
  await journal.drained();
  if (deferred) return { carriedFailures: [...failed.values()] };

  if (served.length > 0) await fetchServedOutcomes(checkpointId, done, options.sharedCheckpoint === true);
  const merged = specs.map(
    (spec) =>
      done.get(spec.taskId) ??
      failed.get(spec.taskId) ??
      failedOutcome(spec.taskId, spec.agent, 'step produced no outcome'),
  );
  if (merged.every((outcome) => outcome.success) && !options.sharedCheckpoint)
    await deleteFinished(context, checkpointId);
  return { outcomes: merged };
}
