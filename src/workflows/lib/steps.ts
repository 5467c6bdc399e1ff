import {
  ActivityFailure,
  type ActivityInterfaceFor,
  ApplicationFailure,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
} from '@temporalio/workflow';
import {
  ErrorTypes,
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
  type StepOutcome,
  type StepPolicy,
  describeZodError,
  failedOutcome,
} from '../../contracts';
import { approveAfter, approveBefore } from './approvals';
import { runBudget } from './budget';
import { CANCELLED_BY_USER, cancelledAlone, runControls } from './controls';
import type { StepProgress } from './progress';
import { clampLimit } from './pool';

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
// timeout is what a dead worker costs its running steps before they retry elsewhere; the activity
// beats every third of it, so 15 s means a beat every 5 s and failover in about 16 s.
const STEP_DEFAULTS: Required<StepPolicy> = {
  startToCloseTimeoutMs: 30 * 60_000,
  heartbeatTimeoutMs: 15_000,
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

const { executorInfo } = proxyLocalActivities<TaoLocalActivities>({ startToCloseTimeout: '10 seconds' });

let executorHint: Promise<number> | undefined;

/**
 * The explicit limit, else the worker executor's concurrency hint, read once
 * per execution through a local activity so replay sees the recorded value.
 */
export async function resolveLimit(concurrency: number | undefined): Promise<number> {
  if (concurrency !== undefined) return clampLimit(concurrency);
  executorHint ??= executorInfo().then((info) => info.concurrencyHint);
  return clampLimit(await executorHint);
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
 * Runs one step: its approvals, the run's pause and budget, its activity, and
 * its progress entry, kept current throughout. Returns the step's outcome
 * (failed when it was rejected, cancelled alone, or refused by the budget), or
 * throws {@link StepCrashed} when its activity failed after its retries.
 * Steps run in a pool lane (./pool), whose scope `cancelStep` cancels.
 */
export async function runStep(
  activities: StepActivities,
  spec: AgentStepSpec,
  entry: StepProgress,
): Promise<StepOutcome> {
  Object.assign(entry, { taskId: spec.taskId, agent: spec.agent });
  const outcome = await decidedOutcome(activities, spec, entry);
  entry.status = outcome.success ? 'succeeded' : 'failed';
  if (!outcome.success) entry.error = outcome.error ?? outcome.output;
  return outcome;
}

async function decidedOutcome(
  activities: StepActivities,
  spec: AgentStepSpec,
  entry: StepProgress,
): Promise<StepOutcome> {
  if (spec.approval?.before) {
    Object.assign(entry, { status: 'waiting', decision: 'before' });
    const rejected = await approveBefore(spec);
    delete entry.decision;
    if (rejected) return rejected;
    entry.status = 'pending';
  }
  const controls = runControls();
  if (controls.paused) await controls.mayStart(spec.taskId);
  if (controls.cancelledBeforeStart(spec.taskId)) return cancelledByUser(spec);
  const budget = runBudget();
  let run: StepRun | 'cancelled';
  if (budget.active) {
    const spent = await budget.spend(
      () => runActivity(activities, spec, entry, budget.tokensLeft()),
      (r) => (r === 'cancelled' || !('outcome' in r) ? undefined : r.outcome.usage),
    );
    if ('refused' in spent) return failedOutcome(spec.taskId, spec.agent, spent.refused);
    run = spent.value;
  } else {
    run = await runActivity(activities, spec, entry, undefined);
  }
  if (run === 'cancelled') return cancelledByUser(spec);
  // This workflow offers no delegation, so an activity never answers with one (the activity refuses it).
  if (!('outcome' in run)) throw new StepCrashed('the step delegated tasks, which this run does not offer');
  entry.attempt = run.attempt;
  if (run.outcome.usage) entry.usage = run.outcome.usage;
  if (!spec.approval?.after || !run.outcome.success) return run.outcome;
  Object.assign(entry, { status: 'waiting', decision: 'after' });
  const decided = await approveAfter(spec, run.outcome);
  delete entry.decision;
  return decided;
}

/**
 * The step's activity, in the current (lane's) scope. `cancelled` when
 * `cancelStep` cancelled it alone; a cancelled workflow's cancellation passes
 * through. The summary names the step in the Web UI's timeline and event
 * history, where the activity type alone does not.
 */
async function runActivity(
  activities: StepActivities,
  spec: AgentStepSpec,
  entry: StepProgress,
  tokensLeft: number | undefined,
): Promise<StepRun | 'cancelled'> {
  entry.status = 'running';
  const controls = runControls();
  const scope = controls.enter(spec.taskId);
  try {
    return await activities.executeAgentStep.executeWithOptions(
      { summary: stepSummary(spec) },
      tokensLeft === undefined ? [spec] : [spec, { tokensLeft }],
    );
  } catch (error) {
    if (cancelledAlone(scope)) return 'cancelled';
    if (isCancellation(error)) throw error;
    const { message, attempt } = describeActivityFailure(error);
    Object.assign(entry, { status: 'failed', error: message, attempt });
    throw new StepCrashed(message);
  } finally {
    controls.leave(spec.taskId);
  }
}

function cancelledByUser(spec: AgentStepSpec): StepOutcome {
  return failedOutcome(spec.taskId, spec.agent, CANCELLED_BY_USER);
}

const SUMMARY_CHARS = 200;

/** `review:src/a.ts · review`: one line, as the Web UI shows it. */
export function stepSummary(spec: AgentStepSpec): string {
  const line = `${spec.taskId} · ${spec.agent}`.replace(/\s+/g, ' ');
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
