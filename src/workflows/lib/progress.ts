import { defineQuery } from '@temporalio/workflow';
import {
  type Budget,
  type BudgetSpent,
  type StepOutcome,
  type StepUsage,
  failedOutcome,
} from '../../contracts';
import type { Settled } from './pool';

/** `waiting`: for a person's decision (see ./approvals); `reused`: a rerun took the outcome of the run it came from (see ./reuse). */
export type StepStatus =
  'pending' | 'waiting' | 'running' | 'succeeded' | 'failed' | 'cached' | 'reused' | 'skipped';

const ENDED: ReadonlySet<StepStatus> = new Set(['succeeded', 'failed', 'cached', 'reused', 'skipped']);

/** A step in one of these has its outcome: nothing more happens to it in this run. */
export const hasEnded = (status: StepStatus) => ENDED.has(status);

/**
 * What a `waiting` step waits for: a decision before it starts, on its
 * outcome after it ran, on a spent budget, the answer to its agent's
 * question, or a decision on a tool call its agent's rules ask about.
 */
export type DecisionKind = 'before' | 'after' | 'budget' | 'question' | 'tool';

export interface StepProgress {
  /** Unique within a combinator run: the taskId for parallel runs, `<item>/<stage>` for pipelines. */
  key: string;
  taskId?: string;
  agent?: string;
  item?: number;
  stage?: number;
  status: StepStatus;
  decision?: DecisionKind;
  /** The attempt that produced the latest result; 0 while none has finished. */
  attempt: number;
  error?: string;
  /** Tokens, model and latency, for steps whose executor reports them. */
  usage?: StepUsage;
  /** A delegated task (./delegation): the step that asked for it, and how deep it stands (1 = its child). */
  parentTaskId?: string;
  depth?: number;
  /** A `reused` step: the run whose step produced its outcome. */
  reusedFrom?: string;
  /**
   * How long the step's attempts that returned ran, added up (a delegating
   * step's, without its tasks'): for every executor, where `usage.latencyMs`
   * is the model's alone.
   */
  durationMs?: number;
  /** A `cached` step served by the step cache across runs: the run whose step produced its outcome. */
  cachedFrom?: string;
  /** Messages people sent the step (./messages), counted. */
  messages?: number;
}

/** Model spend of the steps this execution ran (cached steps cost nothing now; child partitions report their own). */
export interface UsageTotals {
  inputTokens: number;
  outputTokens: number;
  /** Steps that reported usage. */
  steps: number;
}

/** A child execution holding a slice of a run too big for one history. */
export interface PartitionProgress {
  workflowId: string;
  /** Index of its first spec or item in the whole run, and how many it holds. */
  first: number;
  count: number;
  status: 'pending' | 'running' | 'succeeded' | 'failed';
  error?: string;
  /**
   * For a partition of steps (its `count` is steps, not pipeline items): how
   * many of its outcomes succeeded and failed, once it ended; zeros until then.
   */
  outcomes?: { succeeded: number; failed: number };
}

export interface Progress {
  steps: StepProgress[];
  totals: Record<StepStatus, number> & { all: number };
  usage: UsageTotals;
  /** Set when a prior checkpoint existed but could not be read, so every step re-ran. */
  checkpointWarning?: string;
  /** Checkpoint saves or deletes that failed; the run went on regardless. */
  storeWarnings: string[];
  /** Present when the run was split into child executions; their own `progress` queries show their steps. */
  partitions?: PartitionProgress[];
  /** Set by the `pause` update until `resume`: no new step starts. */
  paused?: boolean;
  /** The limit the `setConcurrency` update set, when one did. */
  concurrency?: number;
  /** The run's budget and what it has spent, when it has one (see ./budget). */
  budget?: { limits: Budget; spent: BudgetSpent };
  /** A loop's current round (from 1) and its cap. */
  loop?: { round: number; maxIterations: number };
  /** A rerun (`tao rerun`): the run it came from. */
  rerunOf?: string;
}

export const progressQuery = defineQuery<Progress>('progress');

/** A pooled step's outcome; a step that crashed (its entry says why) as a failed one. */
export function settledOutcome(
  result: Settled<StepOutcome>,
  spec: { taskId: string; agent: string },
  entry: StepProgress,
): StepOutcome {
  return result.ok ? result.value : failedOutcome(spec.taskId, spec.agent, String(entry.error));
}

/**
 * Live state of one run's steps, served by the `progress` query. The run's
 * context (./run-context) owns it; entries are objects the step path updates
 * in place, so a query reads them as they are.
 */
export class ProgressBoard {
  readonly steps: StepProgress[] = [];
  /** Each task id's latest entry: clash checks and Update validators look steps up by id in a run of thousands. */
  private readonly byTaskId = new Map<string, StepProgress>();
  checkpointWarning?: string;
  readonly storeWarnings: string[] = [];
  readonly partitions: PartitionProgress[] = [];
  /** The run's controls, once they exist (see ./controls). */
  steering?: () => { paused: boolean; concurrency?: number };
  /** The run's budget, when it has one (see ./budget). */
  budget?: () => { limits: Budget; spent: BudgetSpent } | undefined;
  loop?: { round: number; maxIterations: number };
  rerunOf?: string;

  add(entry: Omit<StepProgress, 'attempt'> & { attempt?: number }): StepProgress {
    const step: StepProgress = { attempt: 0, ...entry };
    this.steps.push(step);
    if (step.taskId !== undefined) this.byTaskId.set(step.taskId, step);
    return step;
  }

  /** Indexes an entry whose task id became known after it was added (a pipeline stage's, once rendered). */
  named(entry: StepProgress, taskId: string, agent: string): void {
    Object.assign(entry, { taskId, agent });
    this.byTaskId.set(taskId, entry);
  }

  /** An entry for one spec of a parallel or resumable run, keyed by its taskId. */
  addStep(spec: { taskId: string; agent: string }, status: StepStatus, error?: string): StepProgress {
    return this.add({
      key: spec.taskId,
      taskId: spec.taskId,
      agent: spec.agent,
      status,
      ...(error !== undefined ? { error } : {}),
    });
  }

  /** The latest entry of `taskId` (a loop runs a task id once per round), if any. */
  latest(taskId: string): StepProgress | undefined {
    return this.byTaskId.get(taskId);
  }

  addPartition(entry: Omit<PartitionProgress, 'status'>): PartitionProgress {
    const partition: PartitionProgress = { status: 'pending', ...entry };
    this.partitions.push(partition);
    return partition;
  }

  snapshot(): Progress {
    const totals = {
      pending: 0,
      waiting: 0,
      running: 0,
      succeeded: 0,
      failed: 0,
      cached: 0,
      reused: 0,
      skipped: 0,
      all: this.steps.length,
    };
    const usage: UsageTotals = { inputTokens: 0, outputTokens: 0, steps: 0 };
    const steering = this.steering?.();
    const budget = this.budget?.();
    for (const step of this.steps) {
      totals[step.status] += 1;
      if (step.usage) {
        usage.inputTokens += step.usage.inputTokens;
        usage.outputTokens += step.usage.outputTokens;
        usage.steps += 1;
      }
    }
    return {
      steps: this.steps.map((s) => ({ ...s })),
      totals,
      usage,
      storeWarnings: [...this.storeWarnings],
      ...(this.checkpointWarning ? { checkpointWarning: this.checkpointWarning } : {}),
      ...(this.partitions.length ? { partitions: this.partitions.map((p) => ({ ...p })) } : {}),
      ...(steering?.paused ? { paused: true } : {}),
      ...(steering?.concurrency !== undefined ? { concurrency: steering.concurrency } : {}),
      ...(budget ? { budget } : {}),
      ...(this.loop ? { loop: { ...this.loop } } : {}),
      ...(this.rerunOf !== undefined ? { rerunOf: this.rerunOf } : {}),
    };
  }
}
