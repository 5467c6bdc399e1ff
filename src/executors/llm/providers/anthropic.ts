/** The Anthropic messages protocol. */
import Anthropic from '@anthropic-ai/sdk';
import type {
  MessageParam,
  TextBlockParam,
  Tool,
  ToolResultBlockParam,
  ToolUseBlockParam,
} from '@anthropic-ai/sdk/resources/messages';
import { type ChatMessage, type ChatProvider, type ChatTurn, type ToolCall, parseToolInput } from '../chat';
import type { TokenCounts } from '../chat';
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
      const turn: Pick<ChatTurn, 'text' | 'finish' | 'responseModel'> = { text: '', finish: 'other' };
      let usage = NO_USAGE;
      const blocks: ({ kind: 'text' } | { kind: 'tool'; id: string; name: string; json: string })[] = [];
      const marked = breakpointMessages(request.messages);
      let finished = false;
      try {
        const stream = await client.messages.create(
          {
            model: request.model,
            max_tokens: request.maxTokens ?? DEFAULT_MAX_TOKENS,
            system: [{ type: 'text', text: request.system, cache_control: EPHEMERAL }],
            messages: request.messages.map((message, i) => toWire(message, marked.has(i))),
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
          // The SDK drops the server's pings: every event here is the model's.
          request.onProgress?.();
          switch (event.type) {
            case 'message_start':
              turn.responseModel = event.message.model;
              usage = mergeUsage(usage, event.message.usage);
              break;
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
              usage = mergeUsage(usage, event.usage);
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
      return { ...turn, ...tokenCounts(usage), toolCalls };
    },
  };
}

const EPHEMERAL = { type: 'ephemeral' } as const;

/**
 * The messages that end with a prompt-cache breakpoint, as Anthropic
 * documents them for tool loops (the system prompt carries one more, for the
 * tools and system every step of the agent shares; 3 of the 4 allowed):
 * - the latest: this request's whole prompt is cached, and the next round's
 *   prompt starts with it;
 * - the one before the last answer, where the previous round's prompt ended:
 *   the server looks for a cached prefix only about 20 blocks back from a
 *   breakpoint, and a round of many parallel tool calls adds more than that.
 * A prefix shorter than the model's minimum (1,024 tokens for most) is just
 * not cached, at no charge, so none is left off for being short.
 */
function breakpointMessages(messages: readonly ChatMessage[]): Set<number> {
  const previous = messages.map((message) => message.role).lastIndexOf('assistant') - 1;
  return new Set([messages.length - 1, ...(previous >= 0 ? [previous] : [])]);
}

type Block = TextBlockParam | ToolUseBlockParam | ToolResultBlockParam;

/** The blocks with a breakpoint on the last one, when `marked`. */
function withBreakpoint(blocks: Block[], marked: boolean): Block[] {
  const last = blocks[blocks.length - 1];
  return marked && last ? [...blocks.slice(0, -1), { ...last, cache_control: EPHEMERAL }] : blocks;
}

/** Anthropic's counts: `input_tokens` is only the prompt's uncached rest. */
type BilledUsage = Record<(typeof USAGE_FIELDS)[number], number>;
const USAGE_FIELDS = [
  'input_tokens',
  'cache_creation_input_tokens',
  'cache_read_input_tokens',
  'output_tokens',
] as const;
const NO_USAGE: BilledUsage = {
  input_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
  output_tokens: 0,
};

/** message_start gives the usage, message_delta may update it: counts are cumulative, and a null one is unchanged. */
function mergeUsage(
  before: BilledUsage,
  update: Partial<Record<keyof BilledUsage, number | null>>,
): BilledUsage {
  return Object.fromEntries(
    USAGE_FIELDS.map((field) => [field, update[field] ?? before[field]]),
  ) as BilledUsage;
}

function tokenCounts(usage: BilledUsage): TokenCounts {
  return {
    inputTokens: usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens,
    outputTokens: usage.output_tokens,
    cacheReadTokens: usage.cache_read_input_tokens,
    cacheWriteTokens: usage.cache_creation_input_tokens,
  };
}

const FINISH: Record<string, ChatTurn['finish']> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  tool_use: 'tool_calls',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
};

function toWire(message: ChatMessage, marked: boolean): MessageParam {
  const role = message.role === 'assistant' ? 'assistant' : 'user';
  return { role, content: withBreakpoint(blocksOf(message), marked) };
}

function blocksOf(message: ChatMessage): Block[] {
  switch (message.role) {
    case 'user':
      return [{ type: 'text', text: message.text }];
    case 'assistant':
      return [
        // The API rejects empty text blocks.
        ...(message.text ? [{ type: 'text' as const, text: message.text }] : []),
        ...message.toolCalls.map((call) => ({
          type: 'tool_use' as const,
          id: call.id,
          name: call.name,
          // The API refuses the whole request for an input that is no object ("Input should be a valid
          // dictionary"). Such a call was already answered with an error result saying why; {} stands in.
          input: isObject(call.input) ? call.input : {},
        })),
      ];
    case 'tool':
      return message.results.map((result) => ({
        type: 'tool_result' as const,
        tool_use_id: result.callId,
        content: result.content,
        is_error: result.isError,
      }));
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
