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
import { condition, defineUpdate, setHandler } from '@temporalio/workflow';
import { type AgentStepSpec, type StepOutcome, failedOutcome } from '../../contracts';
import { progressBoard } from './progress';

export interface Decision {
  taskId: string;
  comment?: string;
  /** Approve only: replaces the step's output. */
  output?: string;
}

export const approveUpdate = defineUpdate<{ taskId: string; decided: 'approved' }, [Decision]>('approve');
export const rejectUpdate = defineUpdate<{ taskId: string; decided: 'rejected' }, [Decision]>('reject');

type Verdict = { approved: boolean; comment?: string; output?: string; byTimeout?: true };

class Approvals {
  /** Steps waiting now, by taskId: which wait it is. */
  private readonly waiting = new Map<string, 'before' | 'after'>();
  private readonly verdicts = new Map<string, Verdict>();

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
    const entry = [...progressBoard().steps].reverse().find((step) => step.taskId === taskId);
    if (!entry) return `no step "${taskId}" in this run`;
    return `step "${taskId}" is ${entry.status}, not waiting for a decision`;
  }

  async await(spec: AgentStepSpec, stage: 'before' | 'after'): Promise<Verdict> {
    const { taskId } = spec;
    this.waiting.set(taskId, stage);
    try {
      const decided = () => this.verdicts.has(taskId);
      const timeoutMs = spec.approval?.timeoutMs;
      const inTime =
        timeoutMs === undefined ? (await condition(decided), true) : await condition(decided, timeoutMs);
      if (!inTime) {
        return { approved: spec.approval?.onTimeout === 'approve', byTimeout: true };
      }
      return this.verdicts.get(taskId)!;
    } finally {
      this.waiting.delete(taskId);
      this.verdicts.delete(taskId);
    }
  }
}

let approvals: Approvals | undefined;

/** This execution's approvals, with the `approve` and `reject` handlers registered on first use. */
export function runApprovals(): Approvals {
  if (approvals) return approvals;
  const created = new Approvals();
  approvals = created;
  const validator = (decision: Decision) => {
    const refusal = created.refusal((decision as Partial<Decision> | undefined)?.taskId);
    if (refusal) throw new Error(refusal);
  };
  setHandler(
    approveUpdate,
    (decision) => {
      created.decide(decision, true);
      return { taskId: decision.taskId, decided: 'approved' as const };
    },
    { validator },
  );
  setHandler(
    rejectUpdate,
    (decision) => {
      created.decide(decision, false);
      return { taskId: decision.taskId, decided: 'rejected' as const };
    },
    { validator },
  );
  return created;
}

const describeRejection = (stage: 'before' | 'after', verdict: Verdict) =>
  verdict.byTimeout
    ? `rejected ${stage === 'before' ? 'before it started' : 'after it ran'}: no decision in time`
    : `rejected ${stage === 'before' ? 'before it started' : 'after it ran'}${verdict.comment ? `: ${verdict.comment}` : ''}`;

/** The `before` wait: undefined to go ahead, else the step's outcome without running. */
export async function approveBefore(spec: AgentStepSpec): Promise<StepOutcome | undefined> {
  if (!spec.approval?.before) return undefined;
  const verdict = await runApprovals().await(spec, 'before');
  return verdict.approved
    ? undefined
    : failedOutcome(spec.taskId, spec.agent, describeRejection('before', verdict));
}

/** The `after` wait on a successful outcome: the outcome as decided. */
export async function approveAfter(spec: AgentStepSpec, outcome: StepOutcome): Promise<StepOutcome> {
  if (!spec.approval?.after || !outcome.success) return outcome;
  const verdict = await runApprovals().await(spec, 'after');
  if (!verdict.approved) {
    return { ...outcome, success: false, error: describeRejection('after', verdict) };
  }
  if (verdict.output === undefined) return outcome;
  // A person's edit: the structured value no longer describes the output, so it goes.
  const edited: StepOutcome = { ...outcome, output: verdict.output };
  delete edited.structured;
  return edited;
}
