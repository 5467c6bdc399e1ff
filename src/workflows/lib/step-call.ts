/**
 * One combinator call's share of a run: the activities its steps schedule
 * (its step policy), the slots its activities take under the run's limit,
 * when its execution stops taking new steps, and, for a resumable call, the
 * journal its delegated tasks are kept in. A call is opened per combinator
 * call and closed when it returns, so a second call in the same workflow
 * journals nothing into the first's checkpoint.
 */
import { type ActivityInterfaceFor, proxyActivities } from '@temporalio/workflow';
import { ErrorTypes, type TaoActivities } from '../../activity-api';
import type { AgentStepSpec, StepCache, StepOutcome, StepPolicy } from '../../contracts';
import { HistoryAdmission } from './history';
import type { RunContext } from './run-context';
import { RunSlots } from './slots';

// LLM steps run for minutes over flaky transports: generous timeouts, a few retries. The heartbeat
// timeout is what a dead worker costs its running steps before they retry elsewhere: 7 s, with the
// first retry's 1 s and the server's detection, puts a step back to work about 9 s after its worker
// died. The activity beats after a silence of a third of it (src/activities/heartbeat-reporter.ts); a
// run that can wait longer for failover sets `heartbeatTimeoutMs` (60 s and over: the economy pace,
// docs/deploy.md), for fewer billed heartbeats.
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

/**
 * Where a resumable call keeps its delegated tasks (./resumable): a task
 * recorded for the same spec in an earlier execution is served, not run
 * again, and each task that succeeds is recorded under its task id.
 */
export interface ChildJournal {
  served(children: readonly AgentStepSpec[]): Promise<Map<string, StepOutcome>>;
  record(child: AgentStepSpec, outcome: StepOutcome): void;
}

export interface StepCall {
  readonly context: RunContext;
  readonly activities: StepActivities;
  readonly slots: RunSlots;
  readonly admission: HistoryAdmission;
  readonly agentCaches: Record<string, StepCache>;
  readonly journal?: ChildJournal;
  /** Top-level steps that started an activity and have not settled: what the history must still make room for. */
  running: number;
  /** Every task id this call ran, delegated ones too, so a derived id that repeats one is refused. */
  readonly taskIds: Set<string>;
  /** A run by reference: its workflow id, under which top-level steps' activities keep their outcomes (./by-reference). */
  readonly keepsOutcomes?: string;
  /** Stops following the run's `setConcurrency`, pause and `cancelStep`. */
  close(): void;
}

export interface CallOptions {
  concurrency?: number;
  stepPolicy?: StepPolicy;
  journal?: ChildJournal;
  /**
   * The call's execution continues as new when its history fills (a product
   * workflow): it then stops taking new steps in time (./history). A call in
   * a user's workflow runs every step in the one execution.
   */
  continuesAsNew?: boolean;
  /** See {@link StepCall.keepsOutcomes}. */
  keepsOutcomes?: string;
}

export async function openCall(context: RunContext, options: CallOptions): Promise<StepCall> {
  const limit = await context.limit(options.concurrency);
  const { agentCaches = {} } = await context.executorInfo();
  const call: StepCall = {
    context,
    activities: stepActivities(options.stepPolicy),
    slots: new RunSlots(
      () => context.controls.concurrency ?? limit,
      () => call.admission.admits(),
      () => context.controls.paused,
    ),
    admission: new HistoryAdmission(() => call.running, options.continuesAsNew === true),
    agentCaches,
    ...(options.journal ? { journal: options.journal } : {}),
    ...(options.keepsOutcomes ? { keepsOutcomes: options.keepsOutcomes } : {}),
    running: 0,
    taskIds: new Set(),
    close: () => {
      stopFollowing();
      stopWithdrawing();
    },
  };
  const stopFollowing = context.controls.onChange(() => call.slots.wake());
  const stopWithdrawing = context.controls.onCancelPending((taskId) => call.slots.withdraw(taskId));
  return call;
}
