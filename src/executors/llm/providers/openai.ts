/**
 * The OpenAI chat-completions protocol, spoken by OpenAI and by most local
 * servers (Ollama, vLLM, LM Studio, llama.cpp) at their `/v1` base URL.
 */
import OpenAI from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { RetryableStepError } from '../../executor';
import { type ChatMessage, type ChatProvider, type ChatTurn, type ToolCall, parseToolInput } from '../chat';
import type { ProviderSettings } from '../config';
import { endpointOf, incompleteAnswer, toStepError } from '../errors';
import { NO_TOKENS } from '../usage';

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
      // Streamed, so a running step shows its answer as it is written; the turn is the same either way.
      const turn: Omit<ChatTurn, 'toolCalls'> = { text: '', finish: 'other', ...NO_TOKENS };
      const calls: { id: string; name: string; arguments: string }[] = [];
      try {
        const stream = await client.chat.completions.create(
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
            stream: true,
            stream_options: { include_usage: true },
          },
          { signal: request.signal, timeout: request.timeoutMs },
        );
        let finished = false;
        for await (const chunk of stream) {
          request.onProgress?.();
          if (chunk.model) turn.responseModel = chunk.model;
          // Servers that omit usage leave the tokens at 0, as a non-streamed answer without usage did.
          if (chunk.usage) {
            turn.inputTokens = chunk.usage.prompt_tokens;
            turn.outputTokens = chunk.usage.completion_tokens;
            // OpenAI caches long prompts by itself; what it served from the cache is part of prompt_tokens.
            turn.cacheReadTokens = chunk.usage.prompt_tokens_details?.cached_tokens ?? 0;
          }
          const choice = chunk.choices?.[0];
          if (!choice) continue;
          if (choice.finish_reason) {
            turn.finish = FINISH[choice.finish_reason] ?? 'other';
            finished = true;
          }
          if (choice.delta?.content) {
            turn.text += choice.delta.content;
            request.onText?.(turn.text);
          }
          // A call arrives in pieces: its id and name first, then its arguments in fragments, by index.
          for (const piece of choice.delta?.tool_calls ?? []) {
            const call = (calls[piece.index] ??= { id: '', name: '', arguments: '' });
            call.id ||= piece.id ?? '';
            call.name += piece.function?.name ?? '';
            call.arguments += piece.function?.arguments ?? '';
          }
        }
        // The SDK ends an aborted stream quietly; so does a dropped connection. Neither is an answer.
        request.signal.throwIfAborted();
        if (!finished) throw incompleteAnswer(settings, baseUrl);
      } catch (error) {
        if (error instanceof RetryableStepError || request.signal.aborted) throw error;
        throw toStepError(error, OpenAI, endpoint, settings.apiKey);
      }
      const toolCalls: ToolCall[] = calls.map((call) => ({
        id: call.id,
        name: call.name,
        input: parseToolInput(call.arguments),
      }));
      return { ...turn, toolCalls };
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
