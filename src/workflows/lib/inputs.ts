/**
 * What combinators take, and the checks that fail a run at once, naming the
 * field, before any step starts: a bad input is a non-retryable failure,
 * never a workflow-task retry loop.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { ErrorTypes, type StepFailureDetails } from '../../activity-api';
import {
  type AgentStepSpec,
  AgentStepSpecSchema,
  type AgentStepSpecInput,
  type Budget,
  type StepPolicy,
  describeZodError,
} from '../../contracts';
import type { RunContext } from './run-context';

/** Options every combinator takes. */
export interface CombinatorOptions {
  /** Max activities in flight; default: the worker executor's hint. A step waiting for a person, a budget or its tasks holds none. */
  concurrency?: number;
  stepPolicy?: StepPolicy;
  /** Steps one execution holds before the run is split into child workflows (default 1,000). */
  maxStepsPerRun?: number;
  /** The run's spend limit (see ./budget); it binds every combinator sharing the run's context. */
  budget?: Budget;
  /** The run's state to share (./run-context); without one the call makes its own. */
  context?: RunContext;
}

/** Resumable runs only: what to do when a checkpoint exists but cannot be read (default `rerun`). */
export interface ResumableOptions extends CombinatorOptions {
  onUnreadableCheckpoint?: 'rerun' | 'fail';
  /** A checkpointed step whose spec changed since: run it again (default) or fail the run, as a3s does. */
  onStaleCheckpoint?: 'rerun' | 'fail';
  /** The checkpoint is shared with sibling partitions: this execution leaves deleting it to their parent. */
  sharedCheckpoint?: boolean;
}

/** A budget binds one execution's steps; a run split into child workflows would escape it. */
export function refuseSplitBudget(options: CombinatorOptions, steps: number, maxStepsPerRun: number): void {
  if (options.budget) {
    throw invalidInput(
      `budget: a budget binds one workflow execution, and this run (${steps} steps) would be split into child workflows at maxStepsPerRun ${maxStepsPerRun}; raise maxStepsPerRun, or use a resumable run, whose windows share one budget`,
    );
  }
}

/** Validates specs handed to a combinator, and that their task ids are unique. */
export function parseSpecs(specs: readonly AgentStepSpecInput[], path = 'specs'): AgentStepSpec[] {
  return uniqueTaskIds(
    specs.map((spec, index) => parseSpec(spec, `${path}.${index}`)),
    path,
  );
}

export function parseSpec(spec: unknown, path: string): AgentStepSpec {
  const parsed = AgentStepSpecSchema.safeParse(spec);
  if (!parsed.success) throw invalidInput(`${path}.${describeZodError(parsed.error)}`);
  return parsed.data;
}

/**
 * A task id names one step of a run: approvals, `cancelStep`, messages and
 * checkpoints address steps by it, so two steps with one id would each take
 * the other's decisions. Refuses a repeat, naming both positions.
 */
export function uniqueTaskIds<S extends { taskId: string }>(specs: S[], path = 'specs'): S[] {
  const seen = new Map<string, number>();
  for (const [index, spec] of specs.entries()) {
    const first = seen.get(spec.taskId);
    if (first !== undefined) {
      throw invalidInput(
        `${path}.${index}.taskId: "${spec.taskId}" repeats ${path}.${first}.taskId; every step of a run needs its own task id`,
      );
    }
    seen.set(spec.taskId, index);
  }
  return specs;
}

export function invalidInput(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`invalid input: ${message}`, ErrorTypes.invalidInput);
}

/** The step's execution threw after its retries: the executor crashed rather than reporting failure. */
export class StepCrashed extends Error {
  override readonly name = 'StepCrashed';
}

/** The reason an activity failed, not Temporal's generic "Activity task failed" wrapper. */
export function activityFailureMessage(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}

/** An activity failure's message and the attempt the step's activity reported, when it did. */
export function describeActivityFailure(error: unknown): { message: string; attempt: number } {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  const message = activityFailureMessage(error);
  const details =
    cause instanceof ApplicationFailure ? (cause.details?.[0] as StepFailureDetails | undefined) : undefined;
  return { message: message || 'step failed', attempt: details?.attempt ?? 0 };
}
