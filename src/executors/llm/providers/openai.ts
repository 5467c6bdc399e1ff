/**
 * The OpenAI chat-completions protocol, spoken by OpenAI and by most local
 * servers (Ollama, vLLM, LM Studio, llama.cpp) at their `/v1` base URL.
 */
import OpenAI from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { RetryableStepError } from '../../executor';
import type { ChatMessage, ChatProvider, ChatTurn, ToolCall } from '../chat';
import type { ProviderSettings } from '../config';
import { endpointOf, toStepError } from '../errors';

const PUBLIC_ENDPOINT = 'https://api.openai.com/v1';
/** A keyless provider is a local server (config checks that); the SDK still insists on a key. */
const NO_KEY = 'none';

export function openAiProvider(settings: ProviderSettings): ChatProvider {
  const baseUrl = settings.baseUrl ?? PUBLIC_ENDPOINT;
  // Temporal owns retries: an SDK retry would hide failures from the step policy and double the wait.
  const client = new OpenAI({ apiKey: settings.apiKey ?? NO_KEY, baseURL: baseUrl, maxRetries: 0 });
  return {
    async complete(request) {
      const endpoint = endpointOf(settings, baseUrl, request.model);
      let response;
      try {
        response = await client.chat.completions.create(
          {
            model: request.model,
            messages: [{ role: 'system', content: request.system }, ...request.messages.flatMap(toWire)],
            ...(request.tools.length > 0
              ? {
                  tools: request.tools.map((tool) => ({ type: 'function' as const, function: tool })),
                  tool_choice: request.toolChoice,
                }
              : {}),
            ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
            ...(request.maxTokens !== undefined ? { max_completion_tokens: request.maxTokens } : {}),
          },
          { signal: request.signal, timeout: request.timeoutMs },
        );
      } catch (error) {
        throw toStepError(error, OpenAI, endpoint, settings.apiKey);
      }
      const choice = response.choices?.[0];
      if (!choice) throw new RetryableStepError(`${settings.name} (${baseUrl}) answered with no choices`);
      const toolCalls: ToolCall[] = (choice.message.tool_calls ?? []).flatMap((call) =>
        call.type === 'function'
          ? [{ id: call.id, name: call.function.name, input: parseArguments(call.function.arguments) }]
          : [],
      );
      return {
        text: choice.message.content ?? '',
        toolCalls,
        finish: FINISH[choice.finish_reason] ?? 'other',
        inputTokens: response.usage?.prompt_tokens ?? 0,
        outputTokens: response.usage?.completion_tokens ?? 0,
      };
    },
  };
}

const FINISH: Record<string, ChatTurn['finish']> = {
  stop: 'stop',
  tool_calls: 'tool_calls',
  length: 'length',
};

function toWire(message: ChatMessage): ChatCompletionMessageParam[] {
  switch (message.role) {
    case 'user':
      return [{ role: 'user', content: message.text }];
    case 'assistant':
      return [
        {
          role: 'assistant',
          content: message.text || null,
          ...(message.toolCalls.length > 0
            ? {
                tool_calls: message.toolCalls.map((call) => ({
                  id: call.id,
                  type: 'function' as const,
                  function: { name: call.name, arguments: JSON.stringify(call.input ?? {}) },
                })),
              }
            : {}),
        },
      ];
    case 'tool':
      return message.results.map((result) => ({
        role: 'tool' as const,
        tool_call_id: result.callId,
        content: result.content,
      }));
  }
}

/** Arguments arrive as a JSON string; a model that sends bad JSON gets told so by the tool's validation. */
function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text || '{}');
  } catch {
    return text;
  }
}
