/**
 * A step's state between its attempts when it hands work to the workflow:
 * the conversation it ended with when it delegated tasks, asked a person a
 * question (./ask-user) or asked whether a tool call may run (an `ask` rule
 * of its toolApproval), handed to the workflow as an opaque envelope and
 * back with the tasks' outcomes, the answer or the decision. Unlike a
 * retry's heartbeat state, which may be dropped and the step started afresh,
 * this one carries results that exist nowhere else, so any mismatch fails
 * the step instead.
 */
import { z } from 'zod';
import type { AnswerAllowance, DelegationAllowance, ToolDecisionAllowance } from '../../contracts';
import { ASK_USER } from './ask-user';
import { NonRetryableStepError } from '../executor';
import { delegationToolResult } from './delegation-results';
import { type Conversation, pendingToolCalls, resumeConversation, withToolResult } from './resume';

const DelegationStateSchema = z
  .object({
    kind: z.literal('tao.llm.delegation/1'),
    conversation: z.unknown(),
    /** Time the step spent in its attempts so far: waiting for its tasks is not its own time. */
    latencyMs: z.number().int().nonnegative(),
  })
  .strict();

export interface DelegationState {
  kind: 'tao.llm.delegation/1';
  conversation: Conversation;
  latencyMs: number;
}

export function delegationState(conversation: Conversation, latencyMs: number): DelegationState {
  return { kind: 'tao.llm.delegation/1', conversation, latencyMs };
}

/** Where a resumed step starts from: its conversation with the results recorded, and what it had used. */
export interface Resumed {
  conversation: Conversation;
  latencyMs: number;
  /** Tokens of the conversation handed back: the run's budget has already been charged for them. */
  tokens: number;
  /** A tool call a person approved: it runs first, with these arguments, undecided again. */
  approved?: ApprovedCall;
}

export interface ApprovedCall {
  callId: string;
  /** The turn that made it: a later turn's call may reuse the id (some models number calls per turn). */
  round: number;
  input: unknown;
  /** The person gave other arguments than the model's: the model is told what ran. */
  edited: boolean;
}

/**
 * The conversation in `resume.state` with one tool result per delegation call
 * recorded, in the model's call order. The state must be this step's, made
 * with the settings it has now (`key`), and the results must answer exactly
 * the calls it made: otherwise a non-retryable error saying so.
 */
export function resumeAfterDelegation(
  resume: NonNullable<DelegationAllowance['resume']>,
  key: string,
  taskId: string,
): Resumed {
  const { saved, latencyMs, fail } = handedBack(resume.state, key, taskId);
  const thisTurn = (saved.delegated ?? []).filter((call) => call.round === saved.rounds);
  const delegated = new Map(thisTurn.map((call) => [call.callId, call]));
  const results = new Map(resume.results.map((result) => [result.callId, result]));
  const pending = pendingToolCalls(saved);
  const unasked = resume.results.filter((result) => !pending.some((call) => call.id === result.callId));
  if (unasked.length > 0) {
    throw fail(
      `results came back for calls it is not waiting on: ${unasked.map((r) => r.callId).join(', ')}`,
    );
  }
  let conversation = saved;
  for (const call of pending) {
    const asked = delegated.get(call.id);
    const result = results.get(call.id);
    if (!asked) throw fail(`its ${call.name} call ${call.id} was never delegated; rerun the step`);
    if (!result) throw fail(`no result came back for its ${call.name} call ${call.id}`);
    if (result.outcomes.length !== asked.tasks) {
      throw fail(
        `call ${call.id} delegated ${asked.tasks} tasks but ${result.outcomes.length} outcomes came back`,
      );
    }
    conversation = withToolResult(conversation, delegationToolResult(asked, result));
  }
  return { conversation, latencyMs, tokens: saved.inputTokens + saved.outputTokens };
}

/** The conversation in `answer.state` with the person's answer recorded as its `ask_user` call's result. */
export function resumeAfterAnswer(answer: AnswerAllowance, key: string, taskId: string): Resumed {
  const { saved, latencyMs, fail } = handedBack(answer.state, key, taskId);
  const asked = pendingToolCalls(saved).some((call) => call.id === answer.callId && call.name === ASK_USER);
  if (!asked) throw fail(`its conversation has no ask_user call ${answer.callId} waiting; rerun the step`);
  const result = { callId: answer.callId, content: answer.text, isError: false };
  return {
    conversation: withToolResult(saved, result),
    latencyMs,
    tokens: saved.inputTokens + saved.outputTokens,
  };
}

/**
 * The conversation in `decision.state`, ready to go on from the tool call it
 * asked about: rejected, the call's result is the error the model reads,
 * with the person's comment; approved, the call is left pending and
 * returned as `approved`, to run first; to be decided again, it is left
 * pending for the run's grants to decide.
 */
export function resumeAfterToolDecision(
  decision: ToolDecisionAllowance,
  key: string,
  taskId: string,
): Resumed {
  const { saved, latencyMs, fail } = handedBack(decision.state, key, taskId);
  const call = pendingToolCalls(saved).find((pending) => pending.id === decision.callId);
  if (!call) throw fail(`its conversation has no tool call ${decision.callId} waiting; rerun the step`);
  const resumed = { latencyMs, tokens: saved.inputTokens + saved.outputTokens };
  if (decision.decision === 'redecide') return { ...resumed, conversation: saved };
  if (decision.decision === 'rejected') {
    const why = decision.comment ? `: ${decision.comment}` : '';
    const content = `error: a person rejected this call${why}. The call did not run.`;
    return { ...resumed, conversation: withToolResult(saved, { callId: call.id, content, isError: true }) };
  }
  const edited = decision.input !== undefined;
  const input = edited ? decision.input : call.input;
  const approved = { callId: call.id, round: saved.rounds, input, edited };
  return { ...resumed, conversation: saved, approved };
}

/** The step's own conversation from a handed-back `state`, or a non-retryable error saying why not. */
function handedBack(state: unknown, key: string, taskId: string) {
  const fail = (problem: string) => new NonRetryableStepError(`cannot resume step ${taskId}: ${problem}`);
  const parsed = DelegationStateSchema.safeParse(state);
  if (!parsed.success) throw fail('the state handed back is not an llm step hand-back state; rerun the step');
  const saved = resumeConversation(parsed.data.conversation, key);
  if (!saved) {
    throw fail(
      "the state handed back is not this step's conversation (another step's, or made with another model, system prompt or tools); rerun the step",
    );
  }
  return { saved, latencyMs: parsed.data.latencyMs, fail };
}
