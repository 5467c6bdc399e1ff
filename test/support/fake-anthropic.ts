/** A fake Anthropic messages server (`POST /v1/messages`) and builders for its answers. */
import type { ToolCall } from '../../src/executors/llm/chat';
import { type FakeReply, type FakeRequest, type Responder, FakeServer } from './fake-http';

export const startFakeAnthropic = (fallback?: Responder) => FakeServer.start('/v1/messages', fallback);

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

export const anthropicSystemPrompt = (request: FakeRequest): string => request.body.system;
export const anthropicToolNames = (request: FakeRequest): string[] =>
  (request.body.tools ?? []).map((t: { name: string }) => t.name);
