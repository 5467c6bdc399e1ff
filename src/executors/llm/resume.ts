/**
 * An llm step's conversation as a retry resumes it. The executor saves it
 * after every answered model turn and every tool result it records, and
 * waits for the save to be durable (in the checkpoint store; see
 * src/activities/step-state.ts) before the next tool call or model request.
 * A retried attempt (worker crash, heartbeat timeout, transient provider
 * error) is handed the last state saved and goes on from there, so no
 * answered turn is requested again and no recorded tool call runs again,
 * however fast the turns came.
 *
 * The at-least-once window: a tool call that ran but whose result was not
 * yet saved when the worker died runs again on the retry. That is the call
 * itself plus one store write, not the heartbeat throttle; the model request
 * in flight at the crash is sent again, with the same conversation. With a
 * memory store (gone with the worker) only the heartbeat's copy survives,
 * and the throttle bounds the window again.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { StepMessage } from '../../contracts';
import type { ChatMessage, ChatTurn, ToolCall, ToolResult } from './chat';
import { NO_TOKENS, addTokens } from './usage';

const ToolCallSchema = z.object({ id: z.string(), name: z.string(), input: z.unknown() });
const ToolResultSchema = z.object({ callId: z.string(), content: z.string(), isError: z.boolean() });
const ChatMessageSchema = z.discriminatedUnion('role', [
  z.object({ role: z.literal('user'), text: z.string() }),
  z.object({ role: z.literal('assistant'), text: z.string(), toolCalls: z.array(ToolCallSchema) }),
  z.object({ role: z.literal('tool'), results: z.array(ToolResultSchema) }),
]);

/** A `task` / `parallel_task` call the step handed to the workflow (see ./delegation). */
const DelegatedCallSchema = z.object({
  /** The answered turn that made the call: some servers number call ids afresh each turn. */
  round: z.number().int().min(1),
  callId: z.string(),
  tool: z.enum(['task', 'parallel_task']),
  tasks: z.number().int().min(1),
  allowPartialFailure: z.boolean(),
});
export type DelegatedCall = z.infer<typeof DelegatedCallSchema>;

const ConversationSchema = z.object({
  kind: z.literal('tao.llm.conversation/1'),
  /** Binds the state to the step and the settings that shaped it; anything else starts afresh. */
  key: z.string(),
  /** Model turns answered so far. */
  rounds: z.number().int().nonnegative(),
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  // Absent from states saved before TAO counted cached tokens: nothing was cached then.
  cacheReadTokens: z.number().int().nonnegative().default(0),
  cacheWriteTokens: z.number().int().nonnegative().default(0),
  messages: z.array(ChatMessageSchema).min(1),
  /** How the last answered turn ended, when the conversation ends on it. */
  finish: z.enum(['stop', 'tool_calls', 'length', 'other']).optional(),
  /** Delegation calls accepted so far, over the step's whole life: they count against its task limit. */
  delegated: z.array(DelegatedCallSchema).optional(),
  /** The number of the last message a person sent the step that the conversation holds (StepContext.messages). */
  messagesRead: z.number().int().positive().optional(),
  /** Tool calls the profile's toolApproval denied so far; absent while none was. */
  denied: z.number().int().min(1).optional(),
});
/** zod reads `input: unknown` as optional; the chat types say it is always there (possibly `undefined`). */
export type Conversation = Omit<z.infer<typeof ConversationSchema>, 'messages'> & { messages: ChatMessage[] };

/** What decides the conversation: a retry with any of it changed must not reuse the old turns. */
export function conversationKey(parts: {
  taskId: string;
  agent: string;
  prompt: string;
  model: string;
  system: string;
  tools: readonly string[];
}): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

export function startConversation(key: string, prompt: string): Conversation {
  return {
    kind: 'tao.llm.conversation/1',
    key,
    rounds: 0,
    ...NO_TOKENS,
    messages: [{ role: 'user', text: prompt }],
  };
}

/** The saved conversation when it is one of ours for this `key`; otherwise `undefined` (start afresh). */
export function resumeConversation(saved: unknown, key: string): Conversation | undefined {
  const parsed = ConversationSchema.safeParse(saved);
  return parsed.success && parsed.data.key === key ? (parsed.data as Conversation) : undefined;
}

/**
 * The tool calls of the last assistant turn that have no recorded result yet,
 * in the order the model made them; empty when the model is to be asked next.
 */
export function pendingToolCalls(conversation: Conversation): ToolCall[] {
  const messages = conversation.messages;
  const last = messages[messages.length - 1]!;
  const asked = last.role === 'tool' ? messages[messages.length - 2] : last;
  if (asked?.role !== 'assistant') return [];
  const recorded = new Set(last.role === 'tool' ? last.results.map((r) => r.callId) : []);
  return asked.toolCalls.filter((call) => !recorded.has(call.id));
}

/**
 * A copy with one more tool result recorded, so a saved snapshot never
 * changes under the data converter. Results stay in the order the model made
 * the calls, whatever order they came in (a delegated task's comes last):
 * providers match them by id, but strict OpenAI-compatible servers want that order.
 */
export function withToolResult(conversation: Conversation, result: ToolResult): Conversation {
  const messages = conversation.messages;
  const last = messages[messages.length - 1]!;
  const kept = last.role === 'tool' ? messages.slice(0, -1) : messages;
  const asked = kept[kept.length - 1];
  const order = asked?.role === 'assistant' ? asked.toolCalls.map((call) => call.id) : [];
  const results = [...(last.role === 'tool' ? last.results : []), result].sort(
    (a, b) => order.indexOf(a.callId) - order.indexOf(b.callId),
  );
  return { ...conversation, messages: [...kept, { role: 'tool', results }] };
}

/** A copy that gives the agent `messages` (numbered after those it holds) as user turns, before its next model call. */
export function withMessages(conversation: Conversation, messages: readonly StepMessage[]): Conversation {
  return {
    ...conversation,
    messages: [...conversation.messages, ...messages.map(({ text }) => ({ role: 'user' as const, text }))],
    messagesRead: messages[messages.length - 1]!.seq,
  };
}

/** A copy with one more answered turn. */
export function withTurn(conversation: Conversation, turn: ChatTurn): Conversation {
  return {
    ...conversation,
    rounds: conversation.rounds + 1,
    ...addTokens(conversation, turn),
    messages: [...conversation.messages, { role: 'assistant', text: turn.text, toolCalls: turn.toolCalls }],
    finish: turn.finish,
  };
}

/** The one of two states of the same conversation that has come further: every answered turn and recorded result moves it on. */
export function furthest(a: Conversation | undefined, b: Conversation | undefined): Conversation | undefined {
  if (!a || !b) return a ?? b;
  return progressOf(a) > progressOf(b) ? a : b;
}

function progressOf(conversation: Conversation): number {
  const results = conversation.messages.reduce((n, m) => n + (m.role === 'tool' ? m.results.length : 0), 0);
  return conversation.rounds + results + (conversation.messagesRead ?? 0);
}
