/**
 * The contract between workflow code and activities: names and shapes only,
 * so workflows can type their proxies without importing activity code.
 */
import type {
  AgentStepSpec,
  AnswerAllowance,
  CheckpointStep,
  CheckpointStepKey,
  DelegationAllowance,
  DelegationRequest,
  OutcomePlace,
  QuestionRequest,
  ReusableStep,
  StepCache,
  StepOutcome,
  ToolCallRequest,
  ToolDecisionAllowance,
  ToolGrant,
} from './contracts';
import type { ItemRange, ItemSource, ItemsPage, ReadItemsRequest } from './items';
import type { AppendResult, CheckpointAppend } from './stores/session-store';

export type { AppendResult, CheckpointAppend, CheckpointStepKey };

/**
 * One finished step attempt, which attempt it was and how long it ran (absent
 * in histories recorded before it was reported): the step's outcome, or, when
 * the workflow offered delegation, the tasks it delegated before going on.
 */
export type StepRun = (
  | { outcome: StepOutcome }
  | { delegation: DelegationRequest }
  | { question: QuestionRequest }
  | { toolCall: ToolCallRequest }
) & {
  attempt: number;
  durationMs?: number;
};

/** Carried in `ApplicationFailure.details[0]` when a step throws, so progress can show the attempt. */
export interface StepFailureDetails {
  attempt: number;
}

export type CheckpointIndex =
  | { status: 'none' }
  | { status: 'loaded'; steps: CheckpointStepKey[] }
  | { status: 'unreadable'; reason: string };

export type CheckpointLoad =
  | { status: 'none' }
  | { status: 'loaded'; steps: CheckpointStep[] }
  | { status: 'unreadable'; reason: string };

/** A step cache hit (see activities/step-cache): the outcome, and the run whose step produced it. */
export interface CachedStep {
  outcome: StepOutcome;
  workflowId: string;
}

export interface ExecutorInfo {
  concurrencyHint: number;
  /** Agents whose profile opts their steps into the step cache; absent when none does (and from older builds). */
  agentCaches?: Record<string, StepCache>;
  /** Its steps read messages sent while they run (the `message` Update); absent: it refuses them. */
  messages?: boolean;
}

/** What the workflow tells a step beyond its spec. */
export interface StepAllowance {
  /** Model tokens the run's budget has left (see workflows/lib/budget). */
  tokensLeft?: number;
  /** Set when the workflow runs delegated tasks; see `DelegationRequestSchema`. */
  delegation?: DelegationAllowance;
  /** The answer a person gave the question the step's last attempt ended with. */
  answer?: AnswerAllowance;
  /** The decision on the tool call the step's last attempt asked about. */
  toolDecision?: ToolDecisionAllowance;
  /** Tool calls people allowed for the whole run ("approve for this run"); absent while none. */
  toolGrants?: ToolGrant[];
  /** A run by reference: the activity puts the step's outcome here and returns it {@link StepOutcome.kept}. */
  keep?: OutcomePlace;
}

/** The step activity's type name, as history and pending activities show it. */
export const STEP_ACTIVITY_TYPE = 'executeAgentStep' satisfies keyof TaoActivities;

export interface TaoActivities {
  executeAgentStep(spec: AgentStepSpec, allowance?: StepAllowance): Promise<StepRun>;
  /** With `taskIds`, only those of its steps: a partition of a shared checkpoint needs no others. */
  loadCheckpoint(checkpointId: string, taskIds?: string[]): Promise<CheckpointLoad>;
  /** What {@link loadCheckpoint} gives, less the outcomes: a window that serves none of them needs no more. */
  loadCheckpointIndex(checkpointId: string): Promise<CheckpointIndex>;
  saveCheckpoint(checkpointId: string, append: CheckpointAppend): Promise<AppendResult>;
  deleteCheckpoint(checkpointId: string): Promise<void>;
  /** A fresh cached outcome for a spec with `cache`, if the store holds one; a store error is a miss. */
  lookupStepCache(spec: AgentStepSpec): Promise<CachedStep | undefined>;
  /** A run by reference: puts outcomes the workflow settled without a step activity (reused, cached, refused). */
  keepOutcomes(run: string, outcomes: Array<{ seq: number; outcome: StepOutcome }>): Promise<void>;
  /**
   * A rerun by reference: of `steps`, those whose outcome in run `from` succeeded with the same task id and
   * spec digest, put at their place in run `into` too; what history keeps of each.
   */
  reuseOutcomes(
    from: string,
    into: string,
    steps: ReusableStep[],
  ): Promise<Array<{ seq: number; outcome: StepOutcome }>>;
  /** A page of a run's items kept by reference (src/items); a bad source or item fails for good. */
  readItems(request: ReadItemsRequest): Promise<ItemsPage>;
  /** A run's items kept by reference as up to `parts` ranges, for the children of a split run. */
  splitItems(source: ItemSource, parts: number): Promise<ItemRange[]>;
}

export interface TaoLocalActivities {
  executorInfo(): Promise<ExecutorInfo>;
}

/** Error types the workflow reacts to; also the names users see in the Web UI. */
export const ErrorTypes = {
  invalidInput: 'InvalidInput',
  stepCrashed: 'AgentStepCrashed',
  stepError: 'AgentStepError',
} as const;
