/** The Anthropic messages protocol. */
import Anthropic from '@anthropic-ai/sdk';
import type { MessageParam, Tool } from '@anthropic-ai/sdk/resources/messages';
import type { ChatMessage, ChatProvider, ChatTurn, ToolCall } from '../chat';
import type { ProviderSettings } from '../config';
import { endpointOf, toStepError } from '../errors';

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
      let response;
      try {
        response = await client.messages.create(
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
          },
          // An explicit timeout also stops the SDK refusing large maxTokens without streaming.
          { signal: request.signal, timeout: request.timeoutMs },
        );
      } catch (error) {
        throw toStepError(error, Anthropic, endpoint, settings.apiKey);
      }
      const toolCalls: ToolCall[] = [];
      const text: string[] = [];
      for (const block of response.content) {
        if (block.type === 'text') text.push(block.text);
        else if (block.type === 'tool_use')
          toolCalls.push({ id: block.id, name: block.name, input: block.input });
      }
      const usage = response.usage;
      return {
        text: text.join(''),
        toolCalls,
        finish: FINISH[response.stop_reason ?? ''] ?? 'other',
        // Cached prompt tokens are still input the step consumed.
        inputTokens:
          usage.input_tokens +
          (usage.cache_creation_input_tokens ?? 0) +
          (usage.cache_read_input_tokens ?? 0),
        outputTokens: usage.output_tokens,
      };
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
