/**
 * The messages-API conversation rules the fake Anthropic server enforces, so
 * a conversation TAO rebuilds (resume, delegation, messages) that Anthropic
 * would refuse fails in tests as it would in production. Each rule answers
 * with Anthropic's own 400 text, as its API returned it in the reports cited:
 * - `messages` is a non-empty array of `user` and `assistant` messages;
 * - the first message is the user's: the messages reference said so ("The
 *   first message must always use the user role"); today's reference
 *   (docs.claude.com/en/api/messages) no longer states it, but TAO always
 *   opens with the task, so a conversation that does not is rebuilt wrong;
 * - consecutive messages of one role are NOT refused: the reference says
 *   "Consecutive user or assistant turns in your request will be combined
 *   into a single turn";
 * - every message has content but an optional final assistant one: "all
 *   messages must have non-empty content except for the optional final
 *   assistant message" (anthropics/claude-code#6774);
 * - a `tool_use` input is an object: "…tool_use.input: Input should be a valid
 *   dictionary" (anthropics/anthropic-sdk-typescript#648);
 * - the message right after one with `tool_use` blocks is the user's and
 *   begins with a `tool_result` for each (the tool-use guide: results
 *   "must immediately follow" their calls, come first in the message, and
 *   nothing may come between): "`tool_use` ids were found without
 *   `tool_result` blocks immediately after…" (anthropics/claude-code#2697),
 *   "Did not find N tool_result block(s) at the beginning of this message…"
 *   (apify/tester-mcp-client#12);
 * - a `tool_result` answers a `tool_use` of the message before it:
 *   "unexpected `tool_use_id` found in `tool_result` blocks…"
 *   (anthropics/claude-code#13460).
 */
import { InvalidRequest } from './anthropic-prompt-cache';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- request bodies are read as sent
type Body = any;

/** Throws {@link InvalidRequest} for a conversation the API refuses. */
export function checkAnthropicConversation(body: Body): void {
  const messages = body?.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new InvalidRequest('messages: at least one message is required');
  }
  for (const [i, message] of messages.entries()) {
    if (message?.role !== 'user' && message?.role !== 'assistant') {
      throw new InvalidRequest(`messages.${i}.role: Input should be 'user' or 'assistant'`);
    }
    const last = i === messages.length - 1;
    if (blocksOf(message).length === 0 && !(last && message.role === 'assistant')) {
      throw new InvalidRequest(
        `messages.${i}: all messages must have non-empty content except for the optional final assistant message`,
      );
    }
  }
  if (messages[0].role !== 'user')
    throw new InvalidRequest('messages: first message must use the "user" role');
  for (const [i, message] of messages.entries()) {
    const blocks = blocksOf(message);
    const calls = blocks.flatMap((block, j) => (block.type === 'tool_use' ? [{ block, j }] : []));
    for (const { block, j } of calls) {
      if (typeof block.input !== 'object' || block.input === null || Array.isArray(block.input)) {
        throw new InvalidRequest(
          `messages.${i}.content.${j}.tool_use.input: Input should be a valid dictionary`,
        );
      }
    }
    const previous = new Set(
      blocksOf(messages[i - 1])
        .filter((block) => block.type === 'tool_use')
        .map((block) => block.id),
    );
    for (const [j, block] of blocks.entries()) {
      if (block.type === 'tool_result' && !previous.has(block.tool_use_id)) {
        throw new InvalidRequest(
          `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${block.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
        );
      }
    }
    if (calls.length > 0)
      checkAnswered(
        messages,
        i,
        calls.map(({ block }) => block.id),
      );
  }
}

/** The results of message `i`'s calls `ids` lead the very next message. */
function checkAnswered(messages: Body[], i: number, ids: string[]): void {
  const next = messages[i + 1];
  const answered = new Set(
    next?.role === 'user'
      ? blocksOf(next)
          .filter((block) => block.type === 'tool_result')
          .map((block) => block.tool_use_id)
      : [],
  );
  const missing = ids.filter((id) => !answered.has(id));
  if (missing.length > 0) {
    throw new InvalidRequest(
      `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
    );
  }
  const leading = blocksOf(next).slice(0, ids.length);
  if (leading.some((block) => block.type !== 'tool_result')) {
    throw new InvalidRequest(
      `messages.${i + 1}: Did not find ${ids.length} tool_result block(s) at the beginning of this message. Messages following tool_use blocks must begin with a matching number of tool_result blocks.`,
    );
  }
}

/** A message's content as blocks: a string is one text block, an empty one none. */
function blocksOf(message: Body): Body[] {
  const content = message?.content;
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  return Array.isArray(content) ? content : [];
}
