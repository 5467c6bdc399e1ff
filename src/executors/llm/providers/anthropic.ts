/** The Anthropic messages protocol. */
import Anthropic from '@anthropic-ai/sdk';
import type { MessageParam, Tool } from '@anthropic-ai/sdk/resources/messages';
import { type ChatMessage, type ChatProvider, type ChatTurn, type ToolCall, parseToolInput } from '../chat';
import type { ProviderSettings } from '../config';
import { RetryableStepError } from '../../executor';
import { endpointOf, incompleteAnswer, toStepError } from '../errors';

const PUBLIC_ENDPOINT = 'https://api.anthropic.com';
/** The messages API requires a cap on output tokens; profiles may set their own `maxTokens`. */
const DEFAULT_MAX_TOKENS = 4096;
/** A keyless provider is a local or proxy server (config checks that); the SDK still insists on a key. */
const NO_KEY = 'none';

export function anthropicProvider(settings: ProviderSettings): ChatProvider {
  const baseUrl = settings.baseUrl ?? PUBLIC_ENDPOINT;
  // Temporal owns retries: an SDK retry would hide failures from the step policy and double the wait.
  const client = new Anthropic({ apiKey: settings.apiKey ?? NO_KEY, baseURL: baseUrl, maxRetries: 0 });
  return {
    async complete(request) {
      const endpoint = endpointOf(settings, baseUrl, request.model);
      // Streamed, so a running step shows its answer as it is written; the turn is the same either way.
      const turn = { text: '', finish: 'other' as ChatTurn['finish'], inputTokens: 0, outputTokens: 0 };
      const blocks: ({ kind: 'text' } | { kind: 'tool'; id: string; name: string; json: string })[] = [];
      let finished = false;
      try {
        const stream = await client.messages.create(
          {
            model: request.model,
            max_tokens: request.maxTokens ?? DEFAULT_MAX_TOKENS,
            system: request.system,
            messages: request.messages.map(toWire),
            ...(request.tools.length > 0
              ? {
                  tools: request.tools.map((tool): Tool => ({
                    name: tool.name,
                    description: tool.description,
                    input_schema: tool.parameters as Tool.InputSchema,
                  })),
                  tool_choice: { type: request.toolChoice },
                }
              : {}),
            ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
            stream: true,
          },
          { signal: request.signal, timeout: request.timeoutMs },
        );
        for await (const event of stream) {
          switch (event.type) {
            case 'message_start': {
              // Cached prompt tokens are still input the step consumed.
              const usage = event.message.usage;
              turn.inputTokens =
                usage.input_tokens +
                (usage.cache_creation_input_tokens ?? 0) +
                (usage.cache_read_input_tokens ?? 0);
              turn.outputTokens = usage.output_tokens;
              break;
            }
            case 'content_block_start':
              blocks[event.index] =
                event.content_block.type === 'tool_use'
                  ? { kind: 'tool', id: event.content_block.id, name: event.content_block.name, json: '' }
                  : { kind: 'text' };
              break;
            case 'content_block_delta': {
              const block = blocks[event.index];
              if (event.delta.type === 'text_delta') {
                turn.text += event.delta.text;
                request.onText?.(turn.text);
              } else if (event.delta.type === 'input_json_delta' && block?.kind === 'tool') {
                block.json += event.delta.partial_json;
              }
              break;
            }
            case 'message_delta':
              turn.finish = FINISH[event.delta.stop_reason ?? ''] ?? 'other';
              turn.outputTokens = event.usage.output_tokens;
              break;
            case 'message_stop':
              finished = true;
              break;
          }
        }
        // The SDK ends an aborted stream quietly; so does a dropped connection. Neither is an answer.
        request.signal.throwIfAborted();
        if (!finished) throw incompleteAnswer(settings, baseUrl);
      } catch (error) {
        if (error instanceof RetryableStepError || request.signal.aborted) throw error;
        throw toStepError(error, Anthropic, endpoint, settings.apiKey);
      }
      const toolCalls: ToolCall[] = blocks.flatMap((block) =>
        block.kind === 'tool' ? [{ id: block.id, name: block.name, input: parseToolInput(block.json) }] : [],
      );
      return { ...turn, toolCalls };
    },
  };
}

const FINISH: Record<string, ChatTurn['finish']> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  tool_use: 'tool_calls',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
};

function toWire(message: ChatMessage): MessageParam {
  switch (message.role) {
    case 'user':
      return { role: 'user', content: message.text };
    case 'assistant':
      return {
        role: 'assistant',
        content: [
          // The API rejects empty text blocks.
          ...(message.text ? [{ type: 'text' as const, text: message.text }] : []),
          ...message.toolCalls.map((call) => ({
            type: 'tool_use' as const,
            id: call.id,
            name: call.name,
            input: call.input,
          })),
        ],
      };
    case 'tool':
      return {
        role: 'user',
        content: message.results.map((result) => ({
          type: 'tool_result' as const,
          tool_use_id: result.callId,
          content: result.content,
          is_error: result.isError,
        })),
      };
  }
}
