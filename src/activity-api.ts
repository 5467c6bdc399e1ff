/**
 * The contract between workflow code and activities: names and shapes only,
 * so workflows can type their proxies without importing activity code.
 */
import type { AgentStepSpec, CheckpointStep, StepOutcome } from './contracts';

/** One finished step attempt: the outcome and which attempt produced it. */
export interface StepRun {
  outcome: StepOutcome;
  attempt: number;
}

/** Carried in `ApplicationFailure.details[0]` when a step throws, so progress can show the attempt. */
export interface StepFailureDetails {
  attempt: number;
}

export type CheckpointLoad =
  | { status: 'none' }
  | { status: 'loaded'; steps: CheckpointStep[] }
  | { status: 'unreadable'; reason: string };

export interface ExecutorInfo {
  concurrencyHint: number;
}

/**
 * A journal write: the steps completed since the last acknowledged save, on
 * top of the `savedCount` steps the store already holds. Sending only the new
 * steps keeps history linear in the number of steps, not quadratic.
 */
export interface CheckpointAppend {
  savedCount: number;
  steps: CheckpointStep[];
}

/** `missing-base`: the store holds fewer steps than `savedCount` (deleted or replaced meanwhile); resend everything. */
export type AppendResult = 'saved' | 'stale' | 'missing-base';

/** What the workflow tells a step beyond its spec. */
export interface StepAllowance {
  /** Model tokens the run's budget has left (see workflows/lib/budget). */
  tokensLeft?: number;
}

export interface TaoActivities {
  executeAgentStep(spec: AgentStepSpec, allowance?: StepAllowance): Promise<StepRun>;
  loadCheckpoint(checkpointId: string): Promise<CheckpointLoad>;
  saveCheckpoint(checkpointId: string, append: CheckpointAppend): Promise<AppendResult>;
  deleteCheckpoint(checkpointId: string): Promise<void>;
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
