/**
 * Steps that wait for a person: a spec's `approval` makes its step wait for a
 * decision `before` it starts, and/or hold its successful outcome `after` it
 * ran until one arrives. Decisions are the Updates `approve` and `reject`
 * (`{ taskId, comment?, output? }`); an `output` on approve replaces the
 * step's output, a person's edit. A wait is a workflow condition, so it costs
 * nothing however long it lasts and survives any worker; `timeoutMs` bounds
 * it with a durable timer, after which `onTimeout` (default `reject`) decides.
 *
 * The caller sees the outcome only once decided, so a pipeline's next stage
 * does not start, and a resumable run does not journal the step, before then.
 */
import { condition, defineQuery, defineUpdate } from '@temporalio/workflow';
import { type AgentStepSpec, type StepOutcome, failedOutcome } from '../../contracts';
import type { ProgressBoard } from './progress';
import { WaitingStepsAttribute } from './waiting-attribute';

export interface Decision {
  taskId: string;
  comment?: string;
  /** Approve only: replaces the step's output. */
  output?: string;
}

export interface Decided {
  taskId: string;
  decided: 'approved' | 'rejected';
}

export const approveUpdate = defineUpdate<Decided, [Decision]>('approve');
export const rejectUpdate = defineUpdate<Decided, [Decision]>('reject');
/**
 * The prompt of a step waiting for a decision, or null when none waits under
 * that id. A pipeline's and a loop's later prompts are rendered in the
 * workflow and reach history only once their step is scheduled; the person
 * deciding whether it may start needs them before.
 */
export const waitingPromptQuery = defineQuery<string | null, [string]>('waitingPrompt');

type Verdict = { approved: boolean; comment?: string; output?: string; byTimeout?: true };

/** One run's waiting steps and the decisions made on them; its context registers the Updates. */
export class Approvals {
  constructor(private readonly board: ProgressBoard) {}

  /** The steps waiting now: their prompts by task id. */
  private readonly waiting = new Map<string, string>();
  private readonly verdicts = new Map<string, Verdict>();
  private readonly waitingAttribute = new WaitingStepsAttribute();

  promptOf(taskId: string): string | null {
    return this.waiting.get(taskId) ?? null;
  }

  decide(decision: Decision, approved: boolean): void {
    this.verdicts.set(decision.taskId, {
      approved,
      ...(decision.comment !== undefined ? { comment: decision.comment } : {}),
      ...(decision.output !== undefined ? { output: decision.output } : {}),
    });
  }

  /** Why `taskId` cannot take a decision now, or undefined when it can. */
  refusal(taskId: unknown): string | undefined {
    if (typeof taskId !== 'string' || taskId === '') return 'a decision needs { "taskId": "<step>" }';
    if (this.waiting.has(taskId))
      return this.verdicts.has(taskId) ? `step "${taskId}" is already decided` : undefined;
    const entry = this.board.latest(taskId);
    if (!entry) return `no step "${taskId}" in this run`;
    return `step "${taskId}" is ${entry.status}, not waiting for a decision`;
  }

  async await(spec: AgentStepSpec): Promise<Verdict> {
    return (await this.awaitUnless(spec, () => false))!;
  }

  /** {@link await}, unless `moot` comes to hold first (then undefined: nothing is left to decide). */
  async awaitUnless(spec: AgentStepSpec, moot: () => boolean): Promise<Verdict | undefined> {
    const { taskId } = spec;
    this.waiting.set(taskId, spec.prompt);
    this.waitingAttribute.started(taskId);
    try {
      const decided = () => this.verdicts.has(taskId);
      const settled = () => decided() || moot();
      const timeoutMs = spec.approval?.timeoutMs;
      const inTime =
        timeoutMs === undefined ? (await condition(settled), true) : await condition(settled, timeoutMs);
      if (!inTime) {
        return { approved: spec.approval?.onTimeout === 'approve', byTimeout: true };
      }
      return this.verdicts.get(taskId);
    } finally {
      this.waiting.delete(taskId);
      this.waitingAttribute.stopped(taskId);
      this.verdicts.delete(taskId);
    }
  }
}

function describeRejection(stage: 'before' | 'after', verdict: Verdict): string {
  const when = stage === 'before' ? 'before it started' : 'after it ran';
  const why = verdict.byTimeout ? 'no decision in time' : verdict.comment;
  return `rejected ${when}${why ? `: ${why}` : ''}`;
}

/**
 * A step about to start on a spent budget whose `onExhausted` is `wait`: it
 * waits as a pending decision until the limit is raised (`setBudget`) or a
 * person decides. Undefined to go ahead (raised, or approved past the limit),
 * else why it failed.
 */
export async function approveOverBudget(
  approvals: Approvals,
  spec: AgentStepSpec,
  why: string,
  exhausted: () => boolean,
): Promise<string | undefined> {
  // Approval timeouts are for the step's own approvals, not for this wait.
  const verdict = await approvals.awaitUnless({ ...spec, approval: {} }, () => !exhausted());
  if (!verdict || verdict.approved) return undefined;
  return `${why}: rejected${verdict.comment ? `: ${verdict.comment}` : ''}`;
}

/** The `before` wait: undefined to go ahead, else the step's outcome without running. */
export async function approveBefore(
  approvals: Approvals,
  spec: AgentStepSpec,
): Promise<StepOutcome | undefined> {
  if (!spec.approval?.before) return undefined;
  const verdict = await approvals.await(spec);
  return verdict.approved
    ? undefined
    : failedOutcome(spec.taskId, spec.agent, describeRejection('before', verdict));
}

/** The `after` wait on a successful outcome: the outcome as decided. */
export async function approveAfter(
  approvals: Approvals,
  spec: AgentStepSpec,
  outcome: StepOutcome,
): Promise<StepOutcome> {
  if (!spec.approval?.after || !outcome.success) return outcome;
  const verdict = await approvals.await(spec);
  if (!verdict.approved) {
    return { ...outcome, success: false, error: describeRejection('after', verdict) };
  }
  if (verdict.output === undefined) return outcome;
  // A person's edit: the structured value no longer describes the output, so it goes.
  const edited: StepOutcome = { ...outcome, output: verdict.output };
  delete edited.structured;
  return edited;
}
