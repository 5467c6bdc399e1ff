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
  StrictAgentStepSpecSchema,
  type StepOutcome,
  type StepPolicy,
  describeZodError,
  failedOutcome,
} from '../../contracts';
import { approveAfter, approveBefore } from './approvals';
import { runBudget } from './budget';
import {
  CANCELLED_BY_USER,
  RUN_CONTROLS,
  type RunControls,
  cancelledAlone,
  runControls,
  runIn,
} from './controls';
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

/** The patch behind which step specs refuse unknown fields (runs started before it replay leniently). */
export const STRICT_STEP_SPECS = 'strict-step-specs';

/**
 * Decides this execution's patches before anything awaits; every workflow
 * and combinator calls it on entry. A patch first asked for after a local
 * activity (the executor's concurrency hint) can land in a later workflow
 * task live than on replay, where the local activity's result comes back in
 * the earlier task, and Temporal reports that as nondeterminism. Asked for
 * first thing, each patch lands in the first task both times; later calls
 * return the same answer.
 */
export function decidePatches(): void {
  patched(STRICT_STEP_SPECS);
  patched(RUN_CONTROLS);
  patched(LEAN_STEP_AWAITS);
  patched(STEER_PARTITIONS);
  patched(LEAN_STEP_FRAMES);
  patched(LANE_SCOPES);
  patched(CHAINED_LANES);
}

/**
 * The patch behind which a step runs through fewer async frames: the pool
 * awaits it inline, and a step without a budget runs its activity in its
 * cancellable scope inline. Each frame is two promises, and the SDK captures
 * a stack trace for every promise a workflow makes; at wide fan-out that was
 * most of the workflow thread's time.
 */
export const LEAN_STEP_FRAMES = 'lean-step-frames';

/**
 * The patch behind which the steps of a steerable pool lane run their
 * activities in the lane's cancellation scope rather than each entering one
 * of its own (see `RunControls.runLane`), a step with nothing to wait for
 * chains on its activity's promise rather than running as an async function,
 * and a resumable run's checkpoint saves run in the run's scope rather than
 * in the lane of the step that recorded one. Each spares promises per step.
 */
export const LANE_SCOPES = 'lane-scopes';

/**
 * The patch behind which a steerable pool lane runs as one promise chained on
 * its scope's run rather than in an async function with a `catch` after it,
 * and a step's outcome reaches its caller's `onOutcome` as the step ends
 * rather than through an async function wrapped around the step: together
 * two promises fewer per lane and two per resumable step (see LEAN_STEP_FRAMES).
 */
export const CHAINED_LANES = 'chained-lanes';

/** The patch behind which a run split into child workflows passes its steering on to them (./partition). */
export const STEER_PARTITIONS = 'steer-partitions';

/**
 * The patch behind which a step awaits pausing and approval only when it has
 * to. The SDK captures a stack trace for every promise a workflow makes (for
 * `__stack_trace`), so each needless await is a real cost per step at wide fan-out.
 */
export const LEAN_STEP_AWAITS = 'lean-step-awaits';

export function parseSpec(spec: unknown, path: string): AgentStepSpec {
  const schema = patched(STRICT_STEP_SPECS) ? StrictAgentStepSpecSchema : AgentStepSpecSchema;
  const parsed = schema.safeParse(spec);
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
 * Runs one step as an activity and keeps its progress entry current.
 * Returns the outcome the executor reported, or throws {@link StepCrashed}.
 * `onOutcome` sees the outcome as the step ends, before the returned promise
 * settles: a caller with work to do per outcome needs no async function of its
 * own around the step (chained-lanes).
 */
export function runStep(
  activities: StepActivities,
  spec: AgentStepSpec,
  entry: StepProgress,
  onOutcome?: (outcome: StepOutcome) => void,
): Promise<StepOutcome> {
  const controls = patched(RUN_CONTROLS) ? runControls() : undefined;
  const step = new StepRunner(activities, spec, entry, onOutcome);
  Object.assign(entry, { taskId: spec.taskId, agent: spec.agent });
  const direct =
    patched(LANE_SCOPES) &&
    !spec.approval?.before &&
    !spec.approval?.after &&
    !runBudget().active &&
    !controls?.paused &&
    !controls?.cancelledBeforeStart(spec.taskId);
  return direct ? step.direct(controls) : step.awaiting(controls);
}

/** One step's run: what both ways of running it share. */
class StepRunner {
  constructor(
    private readonly activities: StepActivities,
    private readonly spec: AgentStepSpec,
    private readonly entry: StepProgress,
    private readonly onOutcome?: (outcome: StepOutcome) => void,
  ) {}

  /**
   * A step with nothing to wait for before or after its activity (no
   * approval, budget or pause): one promise chained on the activity's, where
   * an async function costs two; the SDK captures a stack for each (lane-scopes).
   */
  direct(controls: RunControls | undefined): Promise<StepOutcome> {
    const { spec, entry } = this;
    entry.status = 'running';
    const scope = controls?.enter(spec.taskId);
    let started: Promise<StepRun>;
    try {
      started = scope ? runIn(scope, this.execute) : this.execute();
    } catch (error) {
      started = Promise.reject(error);
    }
    return started.then(
      (run) => {
        controls?.leave(spec.taskId);
        return this.finish(run.outcome, run.attempt);
      },
      (error: unknown) => {
        controls?.leave(spec.taskId);
        if (scope && cancelledAlone(scope)) return this.cancelled();
        throw this.crashed(error);
      },
    );
  }

  /** Any step, through the waits its spec and the run's state call for. */
  async awaiting(controls: RunControls | undefined): Promise<StepOutcome> {
    const { spec, entry } = this;
    const lean = patched(LEAN_STEP_AWAITS);
    if (spec.approval?.before) {
      Object.assign(entry, { status: 'waiting', decision: 'before' });
      const rejected = await approveBefore(spec);
      delete entry.decision;
      if (rejected) return this.ended(rejected);
      entry.status = 'pending';
    }
    if (controls) {
      if (!lean || controls.paused) await controls.mayStart(spec.taskId);
      if (controls.cancelledBeforeStart(spec.taskId)) return this.cancelled();
    }
    const budget = runBudget();
    let run: { value: StepRun } | 'cancelled';
    if (!budget.active && patched(LEAN_STEP_FRAMES)) {
      entry.status = 'running';
      const scope = controls?.enter(spec.taskId);
      try {
        run = { value: await (scope ? runIn(scope, this.execute) : this.execute()) };
      } catch (error) {
        if (!scope || !cancelledAlone(scope)) throw this.crashed(error);
        run = 'cancelled';
      } finally {
        controls?.leave(spec.taskId);
      }
    } else {
      const runActivity = async (): Promise<{ value: StepRun } | 'cancelled'> => {
        entry.status = 'running';
        try {
          return controls
            ? await controls.cancellable(spec.taskId, this.execute)
            : { value: await this.execute() };
        } catch (error) {
          throw this.crashed(error);
        }
      };
      if (budget.active) {
        const spent = await budget.spend(runActivity, (r) =>
          r === 'cancelled' ? undefined : r.value.outcome.usage,
        );
        if ('refused' in spent) return this.ended(failedOutcome(spec.taskId, spec.agent, spent.refused));
        run = spent.value;
      } else run = await runActivity();
    }
    if (run === 'cancelled') return this.cancelled();
    entry.attempt = run.value.attempt;
    if (run.value.outcome.usage) entry.usage = run.value.outcome.usage;
    if (spec.approval?.after && run.value.outcome.success)
      Object.assign(entry, { status: 'waiting', decision: 'after' });
    const outcome =
      lean && !spec.approval?.after ? run.value.outcome : await approveAfter(spec, run.value.outcome);
    delete entry.decision;
    return this.finish(outcome);
  }

  // The summary names the step in the Web UI's timeline and event history, where the type alone does not.
  private readonly execute = (): Promise<StepRun> => {
    const budget = runBudget();
    const tokensLeft = budget.active ? budget.tokensLeft() : undefined;
    return this.activities.executeAgentStep.executeWithOptions(
      { summary: stepSummary(this.spec) },
      tokensLeft === undefined ? [this.spec] : [this.spec, { tokensLeft }],
    );
  };

  /** The step's final status from its outcome; `attempt`, when the activity's result is at hand. */
  private finish(outcome: StepOutcome, attempt?: number): StepOutcome {
    const { entry } = this;
    if (attempt !== undefined) {
      entry.attempt = attempt;
      if (outcome.usage) entry.usage = outcome.usage;
    }
    entry.status = outcome.success ? 'succeeded' : 'failed';
    if (!outcome.success) entry.error = outcome.error ?? outcome.output;
    this.onOutcome?.(outcome);
    return outcome;
  }

  /** Ends the step without (further) running it. */
  private ended(outcome: StepOutcome): StepOutcome {
    const { spec, entry } = this;
    Object.assign(entry, { taskId: spec.taskId, agent: spec.agent, status: 'failed', error: outcome.error });
    this.onOutcome?.(outcome);
    return outcome;
  }

  private cancelled(): StepOutcome {
    return this.ended(failedOutcome(this.spec.taskId, this.spec.agent, CANCELLED_BY_USER));
  }

  /** The activity failed after its retries: a crash, unless the workflow itself is being cancelled. */
  private crashed(error: unknown): StepCrashed {
    if (isCancellation(error)) throw error;
    const { message, attempt } = describeActivityFailure(error);
    Object.assign(this.entry, { status: 'failed', error: message, attempt });
    return new StepCrashed(message);
  }
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
