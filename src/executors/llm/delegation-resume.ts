/**
 * A delegating step's state between its attempts: the conversation it ended
 * with when it delegated, handed to the workflow as an opaque envelope and
 * back with the tasks' outcomes. Unlike a retry's heartbeat state, which may
 * be dropped and the step started afresh, this one carries results that exist
 * nowhere else, so any mismatch fails the step instead.
 */
import { z } from 'zod';
import type { DelegationAllowance } from '../../contracts';
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
  const fail = (problem: string) => new NonRetryableStepError(`cannot resume step ${taskId}: ${problem}`);
  const state = DelegationStateSchema.safeParse(resume.state);
  if (!state.success) {
    throw fail('the state handed back is not an llm step delegation state; rerun the step');
  }
  const saved = resumeConversation(state.data.conversation, key);
  if (!saved) {
    throw fail(
      "the state handed back is not this step's conversation (another step's, or made with another model, system prompt or tools); rerun the step",
    );
  }
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
  return { conversation, latencyMs: state.data.latencyMs, tokens: saved.inputTokens + saved.outputTokens };
}
