/**
 * Steps that wait for a person: a spec's `approval` makes its step wait for a
 * decision `before` it starts, and/or hold its successful outcome `after` it
 * ran until one arrives. Decisions are the Updates `approve` and `reject`
 * (`{ taskId, comment?, output? }`); an `output` on approve replaces the
 * step's output, a person's edit. A tool call an agent's rules ask about
 * takes the same Updates, with `input` (edited arguments) and `forRun`
 * ("approve for this run") on approve. A wait is a workflow condition, so it costs
 * nothing however long it lasts and survives any worker; `timeoutMs` bounds
 * it with a durable timer, after which `onTimeout` (default `reject`) decides.
 *
 * The caller sees the outcome only once decided, so a pipeline's next stage
 * does not start, and a resumable run does not journal the step, before then.
 */
import { condition, defineQuery, defineUpdate } from '@temporalio/workflow';
import {
  type AgentStepSpec,
  type QuestionRequest,
  type StepOutcome,
  type ToolCallRequest,
  failedOutcome,
} from '../../contracts';
import type { ProgressBoard } from './progress';
import { WaitingStepsAttribute } from './waiting-attribute';

export interface Decision {
  taskId: string;
  comment?: string;
  /** Approve of an outcome only: replaces the step's output. */
  output?: string;
  /** Approve of a tool call only: the arguments it runs with instead of the model's. */
  input?: unknown;
  /** Approve of a tool call only: calls the same rule would ask about run unasked for the rest of the run. */
  forRun?: boolean;
}

export interface Decided {
  taskId: string;
  decided: 'approved' | 'rejected';
}

export const approveUpdate = defineUpdate<Decided, [Decision]>('approve');
/** A person's answer to the question a step's agent asked (`ask_user`): the agent reads it as the tool's result. */
export const answerUpdate = defineUpdate<
  { taskId: string; answered: true },
  [{ taskId: string; text: string }]
>('answer');
export const rejectUpdate = defineUpdate<Decided, [Decision]>('reject');
/**
 * The prompt of a step waiting for a decision, or null when none waits under
 * that id. A pipeline's and a loop's later prompts are rendered in the
 * workflow and reach history only once their step is scheduled; the person
 * deciding whether it may start needs them before.
 */
export const waitingPromptQuery = defineQuery<string | null, [string]>('waitingPrompt');

/** A tool call a step waits on a decision for, as a person reviews it: null when none waits under that id. */
export type WaitingToolCall = Pick<ToolCallRequest, 'tool' | 'input' | 'reason' | 'rule'>;
export const waitingToolCallQuery = defineQuery<WaitingToolCall | null, [string]>('waitingToolCall');

export type Verdict = Omit<Decision, 'taskId'> & { approved: boolean; byTimeout?: true };

/** One run's waiting steps and the decisions made on them; its context registers the Updates. */
export class Approvals {
  constructor(private readonly board: ProgressBoard) {}

  /** The steps waiting now: their prompts (or questions) by task id. */
  private readonly waiting = new Map<string, string>();
  private readonly verdicts = new Map<string, Verdict>();
  /** Of the waiting steps, those whose agent asked a question, and the answers given. */
  private readonly asking = new Set<string>();
  private readonly answers = new Map<string, string>();
  /** Of the waiting steps, those whose tool call waits on a decision. */
  private readonly toolCalls = new Map<string, WaitingToolCall>();
  private readonly waitingAttribute = new WaitingStepsAttribute();

  promptOf(taskId: string): string | null {
    return this.waiting.get(taskId) ?? null;
  }

  toolCallOf(taskId: string): WaitingToolCall | null {
    return this.toolCalls.get(taskId) ?? null;
  }

  decide({ taskId, ...decision }: Decision, approved: boolean): void {
    this.verdicts.set(taskId, { ...decision, approved });
  }

  /** Why `decision` cannot be taken now (`approved`: an approve, else a reject), or undefined when it can. */
  refusal(decision: unknown, approved: boolean): string | undefined {
    const { taskId, output, input, forRun } = (decision ?? {}) as Partial<Record<keyof Decision, unknown>>;
    if (typeof taskId !== 'string' || taskId === '') return 'a decision needs { "taskId": "<step>" }';
    if (this.asking.has(taskId)) {
      return `step "${taskId}" waits for the answer to its question: answer it (tao answer), not approve or reject`;
    }
    if (!this.waiting.has(taskId)) {
      const entry = this.board.latest(taskId);
      if (!entry) return `no step "${taskId}" in this run`;
      return `step "${taskId}" is ${entry.status}, not waiting for a decision`;
    }
    if (this.verdicts.has(taskId)) return `step "${taskId}" is already decided`;
    const onToolCall = this.toolCalls.has(taskId);
    if (!onToolCall && (input !== undefined || forRun !== undefined)) {
      return `input and forRun decide a tool call; step "${taskId}" waits for a decision on the step itself`;
    }
    if (onToolCall && output !== undefined) {
      return `step "${taskId}" waits for a decision on a tool call: give edited arguments as input, not output`;
    }
    if (!approved && (input !== undefined || forRun !== undefined)) {
      return 'input and forRun go with approve; a reject takes only a comment';
    }
    if (forRun !== undefined && typeof forRun !== 'boolean') return 'forRun is true or false';
    return undefined;
  }

  /** Why `input` cannot answer a question now, or undefined when it can. */
  answerRefusal(input: unknown): string | undefined {
    const { taskId, text } = (input ?? {}) as { taskId?: unknown; text?: unknown };
    if (typeof taskId !== 'string' || taskId === '' || typeof text !== 'string' || text.trim() === '') {
      return `answer needs { "taskId": "<step>", "text": "<the answer>" }, got ${JSON.stringify(input)}`;
    }
    if (this.asking.has(taskId)) {
      return this.answers.has(taskId) ? `step "${taskId}" is already answered` : undefined;
    }
    const entry = this.board.latest(taskId);
    if (!entry) return `no step "${taskId}" in this run`;
    return `step "${taskId}" is ${entry.status}, not waiting for an answer`;
  }

  answer(taskId: string, text: string): void {
    this.answers.set(taskId, text.trim());
  }

  /**
   * Waits for the answer to `question`, shown as the step's waiting prompt
   * and in the inbox; undefined when `timeoutMs` passed first.
   */
  async ask(spec: AgentStepSpec, question: QuestionRequest): Promise<string | undefined> {
    const { taskId } = spec;
    this.asking.add(taskId);
    const choices = question.choices?.length ? `\nchoices: ${question.choices.join(' | ')}` : '';
    try {
      return await this.waitFor(taskId, `${question.question}${choices}`, question.timeoutMs, () =>
        this.answers.get(taskId),
      );
    } finally {
      this.asking.delete(taskId);
      this.answers.delete(taskId);
    }
  }

  /**
   * Waits for a decision on the tool call `request`, shown with its
   * arguments and the agent's reason; undefined when `moot` comes to hold
   * first (a grant for the run that may allow it).
   */
  async askAboutTool(
    spec: AgentStepSpec,
    request: ToolCallRequest,
    moot: () => boolean,
  ): Promise<Verdict | undefined> {
    const { taskId } = spec;
    const { tool, input, reason, rule } = request;
    this.toolCalls.set(taskId, { tool, input, reason, rule });
    const why = reason.trim() === '' ? '' : `\nwhy: ${reason.trim()}`;
    const text = `${tool} ${JSON.stringify(input)}${why}\nasked by ${rule}`;
    try {
      return (await this.verdictOn(taskId, text, undefined, moot)) ?? undefined;
    } finally {
      this.toolCalls.delete(taskId);
    }
  }

  async await(spec: AgentStepSpec): Promise<Verdict> {
    return (await this.awaitUnless(spec, () => false))!;
  }

  /** {@link await}, unless `moot` comes to hold first (then undefined: nothing is left to decide). */
  async awaitUnless(spec: AgentStepSpec, moot: () => boolean): Promise<Verdict | undefined> {
    const { taskId } = spec;
    const byTimeout: Verdict = { approved: spec.approval?.onTimeout === 'approve', byTimeout: true };
    const verdict = await this.verdictOn(taskId, spec.prompt, spec.approval?.timeoutMs, moot);
    return verdict === undefined ? byTimeout : (verdict ?? undefined);
  }

  /**
   * The decision on `taskId`, shown waiting with `text`: null when `moot`
   * came to hold first, undefined when `timeoutMs` passed first.
   */
  private async verdictOn(
    taskId: string,
    text: string,
    timeoutMs: number | undefined,
    moot: () => boolean,
  ): Promise<Verdict | null | undefined> {
    try {
      return await this.waitFor(taskId, text, timeoutMs, () =>
        this.verdicts.has(taskId) ? this.verdicts.get(taskId) : moot() ? null : undefined,
      );
    } finally {
      this.verdicts.delete(taskId);
    }
  }

  /**
   * Shows `taskId` as waiting with `text` until `settled` gives a value (then
   * that), or `timeoutMs` passes (then undefined).
   */
  private async waitFor<T>(
    taskId: string,
    text: string,
    timeoutMs: number | undefined,
    settled: () => T | undefined,
  ): Promise<T | undefined> {
    this.waiting.set(taskId, text);
    this.waitingAttribute.started(taskId);
    try {
      const done = () => settled() !== undefined;
      const inTime =
        timeoutMs === undefined ? (await condition(done), true) : await condition(done, timeoutMs);
      return inTime ? settled() : undefined;
    } finally {
      this.waiting.delete(taskId);
      this.waitingAttribute.stopped(taskId);
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

/**
 * The wait for the answer to a step's question: the answer the agent reads,
 * or, when none came within the question's `timeoutMs`, its `onTimeout`
 * answer, else why the step fails.
 */
export async function answerQuestion(
  approvals: Approvals,
  spec: AgentStepSpec,
  question: QuestionRequest,
): Promise<{ answer: string } | { failed: string }> {
  const answer = await approvals.ask(spec, question);
  if (answer !== undefined) return { answer };
  const onTimeout = question.onTimeout ?? 'fail';
  return onTimeout === 'fail'
    ? { failed: `no answer within ${question.timeoutMs} ms to its question: ${question.question}` }
    : { answer: onTimeout.answer };
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
