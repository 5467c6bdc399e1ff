import {
  ActivityFailure,
  type ActivityInterfaceFor,
  ApplicationFailure,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
} from '@temporalio/workflow';
import {
  ErrorTypes,
  type ExecutorInfo,
  type StepAllowance,
  type StepFailureDetails,
  type StepRun,
  type TaoActivities,
  type TaoLocalActivities,
} from '../../activity-api';
import {
  type AgentStepSpec,
  AgentStepSpecSchema,
  type Budget,
  type AgentStepSpecInput,
  type DelegationAllowance,
  type StepUsage,
  type StepOutcome,
  type StepCache,
  type StepPolicy,
  describeZodError,
  failedOutcome,
} from '../../contracts';
import { approveAfter, approveBefore, approveOverBudget } from './approvals';
import { runBudget } from './budget';
import { CANCELLED_BY_USER, cancelledAlone, runControls } from './controls';
import {
  type StepPlace,
  TOP_LEVEL,
  holdSlot,
  runDelegated,
  setDelegationLimit,
  withRunSlot,
} from './delegation';
import type { StepProgress } from './progress';
import { clampLimit } from './pool';
import { runReuse } from './reuse';

/** Options every combinator takes. */
export interface CombinatorOptions {
  /** Max steps (parallel) or chains (pipeline) in flight; default: the worker executor's hint. */
  concurrency?: number;
  stepPolicy?: StepPolicy;
  /** Steps one execution holds before the run is split across executions (default 1,000). */
  maxStepsPerRun?: number;
  /** The run's spend limit (see ./budget); it binds every combinator the workflow runs. */
  budget?: Budget;
}

/** A budget binds one execution's steps; a run split into child workflows would escape it. */
export function refuseSplitBudget(options: CombinatorOptions, steps: number, maxStepsPerRun: number): void {
  if (options.budget) {
    throw invalidInput(
      `budget: a budget binds one workflow execution, and this run (${steps} steps) would be split into child workflows at maxStepsPerRun ${maxStepsPerRun}; raise maxStepsPerRun, or use a resumable run, whose windows share one budget`,
    );
  }
}

/** Resumable runs only: what to do when a checkpoint exists but cannot be read (default `rerun`). */
export interface ResumableOptions extends CombinatorOptions {
  onUnreadableCheckpoint?: 'rerun' | 'fail';
  /** A checkpointed step whose spec changed since: run it again (default) or fail the run, as a3s does. */
  onStaleCheckpoint?: 'rerun' | 'fail';
  /** The checkpoint is shared with sibling partitions: this execution leaves deleting it to their parent. */
  sharedCheckpoint?: boolean;
}

// LLM steps run for minutes over flaky transports: generous timeouts, a few retries. The heartbeat
// timeout is what a dead worker costs its running steps before they retry elsewhere: 7 s, with the
// first retry's 1 s and the server's detection, puts a step back to work about 9 s after its worker
// died. The activity beats every third of it, and the worker's 1 s throttle caps beats at one a second
// a step whatever the executor reports; a step that can wait longer sets its own `heartbeatTimeoutMs`.
const STEP_DEFAULTS: Required<StepPolicy> = {
  startToCloseTimeoutMs: 30 * 60_000,
  heartbeatTimeoutMs: 7_000,
  maximumAttempts: 5,
  initialRetryIntervalMs: 1_000,
};

export type StepActivities = Pick<ActivityInterfaceFor<TaoActivities>, 'executeAgentStep'>;

export function stepActivities(policy: StepPolicy = {}): StepActivities {
  const p = { ...STEP_DEFAULTS, ...policy };
  return proxyActivities<TaoActivities>({
    startToCloseTimeout: p.startToCloseTimeoutMs,
    heartbeatTimeout: p.heartbeatTimeoutMs,
    retry: {
      maximumAttempts: p.maximumAttempts,
      initialInterval: p.initialRetryIntervalMs,
      nonRetryableErrorTypes: [ErrorTypes.invalidInput, ErrorTypes.stepCrashed],
    },
  });
}

// A lookup reads one entry; a store that cannot answer is a miss, so retries only cover a lost worker.
const { lookupStepCache } = proxyActivities<TaoActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});

const { executorInfo } = proxyLocalActivities<TaoLocalActivities>({ startToCloseTimeout: '10 seconds' });

let executorInfoRead: Promise<ExecutorInfo> | undefined;
/** Agents whose worker profile opts their steps into the step cache (see runStep), once executor info is read. */
let agentCaches: Record<string, StepCache> = {};

const readExecutorInfo = () =>
  (executorInfoRead ??= executorInfo().then((info) => {
    agentCaches = info.agentCaches ?? {};
    return info;
  }));

/**
 * The explicit limit, else the worker executor's concurrency hint, read once
 * per execution through a local activity so replay sees the recorded value.
 * It also names the agents whose profile caches their steps: a run with an
 * explicit limit reads it for that alone (patched: its older histories did not).
 */
export async function resolveLimit(concurrency: number | undefined): Promise<number> {
  if (concurrency !== undefined && patched('tao-agent-cache')) await readExecutorInfo();
  const limit = clampLimit(concurrency ?? (await readExecutorInfo()).concurrencyHint);
  setDelegationLimit(limit);
  return limit;
}

/** Validates specs handed to a combinator; a bad one fails the workflow at once, naming the field. */
export function parseSpecs(specs: readonly AgentStepSpecInput[], path = 'specs'): AgentStepSpec[] {
  return specs.map((spec, index) => parseSpec(spec, `${path}.${index}`));
}

export function parseSpec(spec: unknown, path: string): AgentStepSpec {
  const parsed = AgentStepSpecSchema.safeParse(spec);
  if (!parsed.success) throw invalidInput(`${path}.${describeZodError(parsed.error)}`);
  return parsed.data;
}

export function invalidInput(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`invalid input: ${message}`, ErrorTypes.invalidInput);
}

/** The step's execution threw after its retries: the executor crashed rather than reporting failure. */
export class StepCrashed extends Error {
  override readonly name = 'StepCrashed';
}

/**
 * Runs one step: its approvals, the run's pause and budget, its activity,
 * the tasks it delegates (./delegation), and its progress entry, kept current
 * throughout. Returns the step's outcome (failed when it was rejected,
 * cancelled alone, or refused by the budget), or throws {@link StepCrashed}
 * when its activity failed after its retries. Steps run in a pool lane
 * (./pool), whose scope `cancelStep` cancels: that cancels a step's children too.
 *
 * A step that delegates runs its activity again once its children ended,
 * from where it stopped. The budget counts the step once and charges each
 * later attempt's spend as it comes; a step whose children run holds no
 * activity slot and is not counted as running, so a child never waits on its
 * own parent.
 *
 * In a rerun, a step the run came from ran already takes that outcome
 * (./reuse) unless `reusable` is false: it starts nothing and costs nothing.
 * A step with `cache` (its own, else its agent profile's on the worker) and
 * no approval looks for its outcome in the step cache across runs first; a
 * hit is the same, shown `cached` with the run it came from. Steps without
 * `cache` issue no lookup, so their histories replay.
 */
export async function runStep(
  activities: StepActivities,
  spec: AgentStepSpec,
  entry: StepProgress,
  place: StepPlace = TOP_LEVEL,
  reusable = true,
): Promise<StepOutcome> {
  Object.assign(entry, { taskId: spec.taskId, agent: spec.agent });
  const reused = reusable && place === TOP_LEVEL ? runReuse()?.take(spec) : undefined;
  if (reused) {
    Object.assign(entry, { status: 'reused', reusedFrom: reused.workflowId });
    return reused.outcome;
  }
  const cache = spec.approval ? undefined : (spec.cache ?? agentCaches[spec.agent]);
  const cached = cache ? await lookupStepCache({ ...spec, cache }) : undefined;
  if (cached) {
    Object.assign(entry, { status: 'cached', cachedFrom: cached.workflowId });
    return cached.outcome;
  }
  if (spec.approval?.before) {
    Object.assign(entry, { status: 'waiting', decision: 'before' });
    const rejected = await approveBefore(spec);
    delete entry.decision;
    if (rejected) return settled(entry, rejected);
    entry.status = 'pending';
  }
  const controls = runControls();
  if (controls.paused) await controls.mayStart(spec.taskId);
  if (controls.cancelledBeforeStart(spec.taskId)) return settled(entry, cancelledByUser(spec));
  const budget = runBudget();
  const attempt = (resume?: DelegationAllowance['resume']) =>
    withRunSlot(() =>
      runActivity(activities, spec, entry, place, allowance(place, budget.tokensLeft(), resume)),
    );
  const scope = controls.enter(spec.taskId);
  let run: StepRun;
  try {
    if (budget.active) {
      const spent = await budget.spend(
        () => attempt(),
        usageOf,
        (why) => overBudget(spec, entry, why),
      );
      if ('refused' in spent) return settled(entry, failedOutcome(spec.taskId, spec.agent, spent.refused));
      run = spent.value;
    } else {
      run = await attempt();
    }
    ranFor(entry, run);
    let charged = usageOf(run);
    for (let asked = 0; 'delegation' in run;) {
      const request = run.delegation;
      const results = await runDelegated(spec, request, place, asked, (child, childEntry, childPlace) =>
        runStep(activities, child, childEntry, childPlace),
      );
      asked += request.calls.length;
      run = await attempt({ state: request.state, results });
      ranFor(entry, run);
      charged = budget.charge(charged, usageOf(run));
    }
  } catch (error) {
    if (cancelledAlone(scope)) return settled(entry, cancelledByUser(spec));
    throw error;
  } finally {
    controls.leave(spec.taskId);
  }
  entry.attempt = run.attempt;
  if (run.outcome.usage) entry.usage = run.outcome.usage;
  let outcome = run.outcome;
  if (spec.approval?.after && outcome.success) {
    Object.assign(entry, { status: 'waiting', decision: 'after' });
    outcome = await approveAfter(spec, outcome);
    delete entry.decision;
  }
  return settled(entry, outcome);
}

/** A step waiting on a spent budget shows as a pending decision until it is decided or the limit raised. */
async function overBudget(
  spec: AgentStepSpec,
  entry: StepProgress,
  why: string,
): Promise<string | undefined> {
  Object.assign(entry, { status: 'waiting', decision: 'budget', error: why });
  const budget = runBudget();
  const rejected = await approveOverBudget(spec, why, () => budget.exhausted() !== undefined);
  delete entry.decision;
  delete entry.error;
  entry.status = 'pending';
  return rejected;
}

/** Adds an attempt's running time to the step's, when the attempt reported it. */
function ranFor(entry: StepProgress, run: StepRun): void {
  if (run.durationMs !== undefined) entry.durationMs = (entry.durationMs ?? 0) + run.durationMs;
}

/** The step's final status from its outcome. */
function settled(entry: StepProgress, outcome: StepOutcome): StepOutcome {
  entry.status = outcome.success ? 'succeeded' : 'failed';
  if (!outcome.success) entry.error = outcome.error ?? outcome.output;
  return outcome;
}

/** What the workflow tells an attempt: the budget's tokens left, and delegation at the step's depth. */
function allowance(
  place: StepPlace,
  tokensLeft: number | undefined,
  resume: DelegationAllowance['resume'] | undefined,
): StepAllowance {
  return {
    ...(tokensLeft !== undefined ? { tokensLeft } : {}),
    delegation: {
      depth: place.depth,
      ...(place.maxDepth !== undefined ? { maxDepth: place.maxDepth } : {}),
      ...(resume ? { resume } : {}),
    },
  };
}

function usageOf(run: StepRun): StepUsage | undefined {
  return 'outcome' in run ? run.outcome.usage : run.delegation.usage;
}

/**
 * The step's activity, in the current (lane's) scope. The summary names the
 * step in the Web UI's timeline and event history, where the activity type
 * alone does not; an attempt after its children ran says so.
 */
function runActivity(
  activities: StepActivities,
  spec: AgentStepSpec,
  entry: StepProgress,
  place: StepPlace,
  allowance: StepAllowance,
): Promise<StepRun> {
  entry.status = 'running';
  const summary = stepSummary(spec, place, allowance.delegation?.resume !== undefined);
  const release = holdSlot();
  // Released in the handlers this path has anyway: a promise more per step is run time the baseline bench sees.
  return activities.executeAgentStep.executeWithOptions({ summary }, [spec, allowance]).then(
    (run) => {
      release();
      return run;
    },
    (error: unknown) => {
      release();
      if (isCancellation(error)) throw error;
      const { message, attempt } = describeActivityFailure(error);
      Object.assign(entry, { status: 'failed', error: message, attempt });
      throw new StepCrashed(message);
    },
  );
}

function cancelledByUser(spec: AgentStepSpec): StepOutcome {
  return failedOutcome(spec.taskId, spec.agent, CANCELLED_BY_USER);
}

const SUMMARY_CHARS = 200;

/**
 * `review:src/a.ts · review`, with `· task of <parent>` for a delegated task
 * and `(resumed after its tasks)` for an attempt after a step's tasks: one
 * line, as the Web UI shows it.
 */
function stepSummary(spec: AgentStepSpec, place: StepPlace, resumed: boolean): string {
  const parent = place.parentTaskId !== undefined ? ` · task of ${place.parentTaskId}` : '';
  const after = resumed ? ' (resumed after its tasks)' : '';
  const line = `${spec.taskId} · ${spec.agent}${parent}${after}`.replace(/\s+/g, ' ');
  return line.length > SUMMARY_CHARS ? `${line.slice(0, SUMMARY_CHARS - 1)}…` : line;
}

/** The reason an activity failed, not Temporal's generic "Activity task failed" wrapper. */
export function activityFailureMessage(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}

function describeActivityFailure(error: unknown): { message: string; attempt: number } {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  const message = activityFailureMessage(error);
  const details =
    cause instanceof ApplicationFailure ? (cause.details?.[0] as StepFailureDetails | undefined) : undefined;
  return { message: message || 'step failed', attempt: details?.attempt ?? 0 };
}
