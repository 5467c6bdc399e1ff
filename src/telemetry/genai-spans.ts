/**
 * The model calls and tool calls of an llm step as OpenTelemetry spans, in
 * the GenAI semantic conventions' shape (semconv docs/gen-ai/gen-ai-spans.md),
 * so trace viewers that know them (Jaeger, Phoenix, Langfuse, Grafana...)
 * show a step's turns and tools: `chat {model}` (CLIENT) per model call and
 * `execute_tool {tool}` (INTERNAL) per tool the worker runs. Each is a child
 * of the span active when it starts, the step's `RunActivity:executeAgentStep`
 * (./step-span.ts). Delegated tasks get no tool span: they run as steps of
 * their own, with their own activity spans.
 *
 * Invariants: identities, token counts and finish reasons always go on;
 * prompts, completions, tool arguments and results only with `content` (the
 * worker's `--trace-content`), and then with every known secret replaced in
 * every string before it is encoded, as errors are scrubbed. Nothing is built
 * for a span nobody records (tracing off). A span never changes what the call
 * it wraps returns or throws.
 */
import { type Attributes, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type {
  ChatMessage,
  ChatProvider,
  ChatRequest,
  ChatTurn,
  ToolCall,
  ToolResult,
} from '../executors/llm/chat';
import { redactSecrets } from '../executors/llm/mcp/config';

export interface GenAiSpanOptions {
  /** `gen_ai.provider.name`: the protocol spoken, `openai` or `anthropic` (a local server speaking OpenAI's reads as openai). */
  provider: string;
  /** Whether prompts, completions and tool arguments and results go on the spans. */
  content: boolean;
  /** Replaced in any content before it reaches a span: provider keys, MCP servers' secrets. */
  secrets: readonly string[];
}

/** Runs a model call or a tool call inside its span. */
export interface GenAiSpans {
  chat(provider: ChatProvider, request: ChatRequest): Promise<ChatTurn>;
  tool(call: ToolCall, run: () => Promise<ToolResult>): Promise<ToolResult>;
}

export function genAiSpans(options: GenAiSpanOptions): GenAiSpans {
  const scrub = (text: string) => redactSecrets(text, options.secrets);
  // Scrubbed string by string, before encoding: a secret is found whatever JSON would escape around it.
  const json = (value: unknown) =>
    JSON.stringify(value, (_key, item: unknown) => (typeof item === 'string' ? scrub(item) : item));
  const withContent = (span: Span) => options.content && span.isRecording();
  const run = <T>(name: string, kind: SpanKind, attributes: Attributes, body: (span: Span) => Promise<T>) =>
    trace.getTracer('tao').startActiveSpan(name, { kind, attributes }, async (span) => {
      try {
        return await body(span);
      } catch (error) {
        failed(span, error, scrub);
        throw error;
      } finally {
        span.end();
      }
    });

  return {
    chat(provider, request) {
      const attributes = {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': options.provider,
        'gen_ai.request.model': request.model,
        ...(request.maxTokens !== undefined ? { 'gen_ai.request.max_tokens': request.maxTokens } : {}),
        ...(request.temperature !== undefined ? { 'gen_ai.request.temperature': request.temperature } : {}),
      };
      return run(`chat ${request.model}`, SpanKind.CLIENT, attributes, async (span) => {
        if (withContent(span)) {
          span.setAttributes({
            'gen_ai.system_instructions': json([{ type: 'text', content: request.system }]),
            'gen_ai.input.messages': json(request.messages.flatMap(inputMessages)),
          });
        }
        const turn = await provider.complete(request);
        span.setAttributes({
          ...(turn.responseModel !== undefined ? { 'gen_ai.response.model': turn.responseModel } : {}),
          'gen_ai.usage.input_tokens': turn.inputTokens,
          'gen_ai.usage.output_tokens': turn.outputTokens,
          'gen_ai.response.finish_reasons': [turn.finish],
        });
        if (withContent(span)) {
          const output = { role: 'assistant', parts: assistantParts(turn), finish_reason: turn.finish };
          span.setAttribute('gen_ai.output.messages', json([output]));
        }
        return turn;
      });
    },

    tool(call, execute) {
      const attributes = {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': call.name,
        'gen_ai.tool.call.id': call.id,
        'gen_ai.tool.type': 'function',
      };
      return run(`execute_tool ${call.name}`, SpanKind.INTERNAL, attributes, async (span) => {
        if (withContent(span)) span.setAttribute('gen_ai.tool.call.arguments', json(call.input));
        const result = await execute();
        if (withContent(span)) span.setAttribute('gen_ai.tool.call.result', scrub(result.content));
        // The model reads a failed tool's error as its result; the span says it failed, without the text.
        if (result.isError) {
          span.setAttribute('error.type', 'tool_error');
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        return result;
      });
    },
  };
}

/** A call that threw: its error's class and (scrubbed) message, never its stack. */
function failed(span: Span, error: unknown, scrub: (text: string) => string): void {
  const name = error instanceof Error ? error.name : 'Error';
  const message = scrub(error instanceof Error ? error.message : String(error));
  span.recordException({ name, message });
  span.setAttribute('error.type', name);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/**
 * A message as the conventions' input-messages schema writes it; tool results
 * one message each, as OpenAI's wire sends them and viewers (Phoenix) show them.
 */
function inputMessages(message: ChatMessage): { role: string; parts: object[] }[] {
  switch (message.role) {
    case 'user':
      return [{ role: 'user', parts: [{ type: 'text', content: message.text }] }];
    case 'assistant':
      return [{ role: 'assistant', parts: assistantParts(message) }];
    case 'tool':
      return message.results.map((result) => ({
        role: 'tool',
        parts: [{ type: 'tool_call_response', id: result.callId, response: result.content }],
      }));
  }
}

function assistantParts({ text, toolCalls }: { text: string; toolCalls: readonly ToolCall[] }) {
  return [
    ...(text ? [{ type: 'text', content: text }] : []),
    ...toolCalls.map((call) => ({ type: 'tool_call', id: call.id, name: call.name, arguments: call.input })),
  ];
}
