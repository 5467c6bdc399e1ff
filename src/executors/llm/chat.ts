/**
 * The provider-neutral shape of a tool-using conversation. The executor's
 * loop speaks only this; each provider module translates it to its wire
 * protocol, so adding a provider never touches the loop. A leaf module: the
 * types every other llm module shares live here, so none of them imports back.
 */

export interface TokenCounts {
  inputTokens: number;
  outputTokens: number;
  /** Of `inputTokens`: read from the provider's prompt cache. */
  cacheReadTokens: number;
  /** Of `inputTokens`: written to the provider's prompt cache. */
  cacheWriteTokens: number;
}

export interface ToolCall {
  id: string;
  name: string;
  /** The arguments as the model sent them (parsed JSON when it was JSON). */
  input: unknown;
}

export interface ToolResult {
  callId: string;
  content: string;
  isError: boolean;
}

export type ChatMessage =
  | { role: 'user'; text: string }
  | { role: 'assistant'; text: string; toolCalls: ToolCall[] }
  /** Answers to every call of the assistant message before it. */
  | { role: 'tool'; results: ToolResult[] };

export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
}

export interface ChatRequest {
  model: string;
  system: string;
  messages: readonly ChatMessage[];
  tools: readonly ToolSpec[];
  /** `none` on the last allowed round: the model must answer instead of calling tools. */
  toolChoice: 'auto' | 'none';
  temperature?: number;
  maxTokens?: number;
  signal: AbortSignal;
  /** Time left in the step; also the HTTP request's own timeout. */
  timeoutMs: number;
  /** Called as the answer streams in, with the answer's text so far. */
  onText?: (textSoFar: string) => void;
  /** Called on every event the stream delivers, text or not (tool-call fragments, thinking): the step is alive. */
  onProgress?: () => void;
}

/** An answer, and the tokens it took: cached prompt tokens are counted apart as well as in `inputTokens`. */
export interface ChatTurn extends TokenCounts {
  text: string;
  toolCalls: ToolCall[];
  /** `length`: the answer was cut off at the token limit. */
  finish: 'stop' | 'tool_calls' | 'length' | 'other';
  /** The model that answered, as the provider names it (a dated version of the one asked for), when it says. */
  responseModel?: string;
}

/**
 * One configured endpoint. `complete` throws a RetryableStepError or
 * NonRetryableStepError for failures it understands, and rethrows an abort
 * as-is so the caller can tell cancellation and timeout apart.
 */
export interface ChatProvider {
  complete(request: ChatRequest): Promise<ChatTurn>;
}

/** Tool arguments arrive as JSON text (in fragments, when streamed); bad JSON is left for the tool's validation to report. */
export function parseToolInput(text: string): unknown {
  try {
    return JSON.parse(text || '{}');
  } catch {
    return text;
  }
}
