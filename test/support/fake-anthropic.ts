/** A fake Anthropic messages server (`POST /v1/messages`) and builders for its answers. */
import type { ToolCall } from '../../src/executors/llm/chat';
import { type AnthropicBill, AnthropicPromptCache, InvalidRequest } from './anthropic-prompt-cache';
import { checkAnthropicConversation } from './anthropic-rules';
import {
  type FakeReply,
  type FakeRequest,
  type Responder,
  type Review,
  FakeServer,
  pieces,
} from './fake-http';

/**
 * Every request's conversation and cache breakpoints are checked as the API
 * checks them, whatever the script says to answer: a request the API refuses
 * gets its 400, never a scripted answer. With a `cache`, the scripted input
 * usage gives way to what the cache bills.
 */
export const startFakeAnthropic = (fallback?: Responder, cache?: AnthropicPromptCache) =>
  FakeServer.start('/v1/messages', anthropicEvents, fallback, review(cache));

function review(cache: AnthropicPromptCache | undefined): Review {
  return (request, reply) => {
    try {
      checkAnthropicConversation(request.body);
      if (reply.hang || (reply.status ?? 200) !== 200) return reply;
      const message = reply.body as Message;
      if (!cache) {
        AnthropicPromptCache.check(request.body);
        return reply;
      }
      return { ...reply, body: { ...message, usage: cache.bill(request.body, message.usage.output_tokens) } };
    } catch (error) {
      if (error instanceof InvalidRequest) {
        return {
          status: 400,
          body: { type: 'error', error: { type: 'invalid_request_error', message: error.message } },
        };
      }
      throw error;
    }
  };
}

interface Message {
  content: (
    { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: unknown }
  )[];
  stop_reason: string;
  usage: Pick<AnthropicBill, 'input_tokens' | 'output_tokens'> & Partial<AnthropicBill>;
}

/**
 * A message as Anthropic streams it: start with input usage, blocks in
 * deltas, then stop reason and the usage so far (cumulative, input included).
 */
function anthropicEvents(body: unknown): string[] {
  const message = body as Message;
  const event = (type: string, data: object) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const input = {
    input_tokens: message.usage.input_tokens,
    cache_creation_input_tokens: message.usage.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: message.usage.cache_read_input_tokens ?? 0,
  };
  return [
    event('message_start', {
      message: { ...message, content: [], stop_reason: null, usage: { ...input, output_tokens: 1 } },
    }),
    ...message.content.flatMap((block, index) =>
      block.type === 'text'
        ? [
            event('content_block_start', { index, content_block: { type: 'text', text: '' } }),
            ...pieces(block.text).map((text) =>
              event('content_block_delta', { index, delta: { type: 'text_delta', text } }),
            ),
            event('content_block_stop', { index }),
          ]
        : [
            event('content_block_start', {
              index,
              content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
            }),
            ...pieces(JSON.stringify(block.input), 3).map((partial_json) =>
              event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json } }),
            ),
            event('content_block_stop', { index }),
          ],
    ),
    event('message_delta', {
      delta: { stop_reason: message.stop_reason, stop_sequence: null },
      usage: { ...input, output_tokens: message.usage.output_tokens },
    }),
    event('message_stop', {}),
  ];
}

const message = (content: unknown[], stopReason: string, [input, output]: [number, number]) => ({
  body: {
    id: 'msg_fake',
    type: 'message',
    role: 'assistant',
    model: 'fake-model',
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    usage: { input_tokens: input, output_tokens: output },
  },
});

export const anthropicText = (text: string, tokens: [number, number] = [10, 5]): FakeReply =>
  message([{ type: 'text', text }], 'end_turn', tokens);

export const anthropicToolUse = (
  calls: Omit<ToolCall, 'id'>[],
  tokens: [number, number] = [10, 5],
): FakeReply =>
  message(
    calls.map((call, i) => ({ type: 'tool_use', id: `toolu_${i}`, name: call.name, input: call.input })),
    'tool_use',
    tokens,
  );

export const anthropicError = (
  status: number,
  message: string,
  headers: Record<string, string> = {},
): FakeReply => ({
  status,
  headers,
  body: { type: 'error', error: { type: 'fake_error', message } },
});

/** The tool results the executor sent back in a request, by tool_use id. */
export const anthropicToolResults = (request: FakeRequest): Record<string, string> =>
  Object.fromEntries(
    (request.body.messages as { role: string; content: unknown }[])
      .flatMap((m) => (Array.isArray(m.content) ? m.content : []))
      .filter((block: { type: string }) => block.type === 'tool_result')
      .map((block: { tool_use_id: string; content: string }) => [block.tool_use_id, block.content]),
  );

export const anthropicSystemPrompt = (request: FakeRequest): string =>
  typeof request.body.system === 'string'
    ? request.body.system
    : request.body.system.map((block: { text: string }) => block.text).join('');
export const anthropicToolNames = (request: FakeRequest): string[] =>
  (request.body.tools ?? []).map((t: { name: string }) => t.name);
