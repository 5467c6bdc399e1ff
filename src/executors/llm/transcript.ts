/**
 * What an llm step tells its transcript (src/transcripts/events.ts), in the
 * executor's own terms: each method is one point of the tool loop. Every
 * string is scrubbed of the worker's secrets (provider keys, MCP servers'
 * variables) before it leaves, the way error messages are; tool results and
 * delegated answers are cut to the transcript's stated size.
 *
 * A turn a retry resumed from the saved conversation is never told again:
 * the loop reports a turn only when the model answers it, and a resumed
 * attempt starts with `attempt-start` naming the round it went on from.
 */
import type { DelegationCall, DelegationResult, StepMessage, ToolDecisionAllowance } from '../../contracts';
import {
  type StepEventBody,
  type StepEvents,
  TRANSCRIPT_LIMITS,
  headAndTail,
  mapStrings,
} from '../../transcripts/events';
import type { ExecutorResult } from '../executor';
import type { ChatTurn, TokenCounts, ToolResult } from './chat';
import { redactSecrets } from './mcp/config';

const cut = (text: string) => headAndTail(text, TRANSCRIPT_LIMITS.toolResultChars);

export class LlmTranscript {
  /** Characters of the current turn's streamed text, scrubbed, already told. */
  private told = 0;
  /**
   * Streamed text held back from a delta until more arrives: a secret split
   * across chunks is whole only later, and its first part must not go out before.
   */
  private readonly holdBack: number;

  constructor(
    private readonly events: StepEvents | undefined,
    private readonly step: {
      secrets: readonly string[];
      model: string;
      /** What one call's tokens cost, when the model has a price. */
      costOf(tokens: TokenCounts): number | undefined;
    },
  ) {
    this.holdBack = Math.max(0, ...step.secrets.map((secret) => secret.length - 1));
  }

  attemptStarted(resumedAtRound: number): void {
    this.emit({ kind: 'attempt-start', ...(resumedAtRound > 0 ? { resumedAtRound } : {}) });
  }

  turnStarted(round: number): void {
    this.told = 0;
    this.emit({ kind: 'turn-start', round });
  }

  text(round: number, textSoFar: string, final = false): void {
    const clean = this.scrub(textSoFar);
    const safe = final ? clean.length : clean.length - this.holdBack;
    if (safe <= this.told) return;
    this.emit({ kind: 'text-delta', round, text: clean.slice(this.told, safe) });
    this.told = safe;
  }

  /** The answered turn, its usage and cost (when the model has a price), and the tool calls it made. */
  turnEnded(round: number, turn: ChatTurn): void {
    const { text, finish, toolCalls, inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens } = turn;
    const usage = { inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens };
    const costUsd = this.step.costOf(turn);
    this.text(round, text, true);
    this.emit({
      kind: 'turn-end',
      round,
      text,
      finish,
      model: this.step.model,
      usage: costUsd !== undefined ? { ...usage, costUsd } : usage,
    });
    for (const call of toolCalls) {
      const input = JSON.stringify(call.input) ?? 'null';
      this.emit({ kind: 'tool-call', round, callId: call.id, name: call.name, input });
    }
  }

  toolResult(round: number, { callId, content, isError }: ToolResult): void {
    this.emit({ kind: 'tool-result', round, callId, content: cut(content), isError });
  }

  messages(messages: readonly StepMessage[]): void {
    for (const { seq, text } of messages) this.emit({ kind: 'message', number: seq, text: cut(text) });
  }

  delegated(round: number, calls: readonly DelegationCall[]): void {
    for (const { callId, tool, tasks } of calls) {
      const named = tasks.map(({ agent, description }) => ({ agent, description }));
      this.emit({ kind: 'delegated', round, callId, tool, tasks: named });
    }
  }

  delegationResults(results: readonly DelegationResult[]): void {
    for (const { callId, outcomes } of results) {
      this.emit({
        kind: 'delegation-result',
        callId,
        outcomes: outcomes.map(({ taskId, success, output }) => ({ taskId, success, output: cut(output) })),
      });
    }
  }

  toolDecided({ callId, decision, input, comment }: ToolDecisionAllowance): void {
    // A call decided again is told by what happens to it next: run, or asked about again.
    if (decision === 'redecide') return;
    this.emit({
      kind: 'tool-decision',
      callId,
      decision,
      ...(input !== undefined ? { input: JSON.stringify(input) } : {}),
      ...(comment ? { comment } : {}),
    });
  }

  /** Passes `result` through, told. */
  ended<R extends ExecutorResult>(result: R): R {
    if ('delegation' in result) this.emit({ kind: 'attempt-end', result: 'delegated' });
    else if ('question' in result) this.emit({ kind: 'attempt-end', result: 'asked' });
    else if ('toolCall' in result) {
      const { callId, rule } = result.toolCall;
      this.emit({ kind: 'tool-decision', callId, decision: 'asked', rule });
      this.emit({ kind: 'attempt-end', result: 'asked' });
    } else if (result.success) this.emit({ kind: 'attempt-end', result: 'success' });
    else
      this.emit({ kind: 'attempt-end', result: 'failed', ...(result.error ? { error: result.error } : {}) });
    return result;
  }

  crashed(error: unknown): void {
    this.emit({
      kind: 'attempt-end',
      result: 'crashed',
      error: error instanceof Error ? error.message : String(error),
    });
  }

  private emit(event: StepEventBody): void {
    this.events?.emit(mapStrings(event, (text) => this.scrub(text)));
  }

  private scrub(text: string): string {
    return redactSecrets(text, this.step.secrets);
  }
}
