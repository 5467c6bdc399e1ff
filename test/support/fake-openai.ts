/** A fake OpenAI-compatible server (`POST /v1/chat/completions`) and builders for its answers. */
import type { ToolCall } from '../../src/executors/llm/chat';
import { type FakeReply, type FakeRequest, type Responder, FakeServer, pieces } from './fake-http';
import { openAiRequestProblem } from './openai-rules';

/** Every request is checked as the API checks it: one the API refuses gets its 400, never a scripted answer. */
export const startFakeOpenAI = (fallback?: Responder) =>
  FakeServer.start('/v1/chat/completions', openAiEvents, fallback, refuseInvalid);

const refuseInvalid = (request: FakeRequest, reply: FakeReply): FakeReply => {
  const problem = openAiRequestProblem(request.body);
  return problem ? { status: 400, body: { error: { ...problem, type: 'invalid_request_error' } } } : reply;
};

interface Completion {
  choices: {
    message: {
      content: string | null;
      tool_calls?: { id: string; function: { name: string; arguments: string } }[];
    };
    finish_reason: string;
  }[];
  usage: unknown;
}

/** A completion as OpenAI streams it: content and tool-call arguments in fragments, then finish, then usage. */
function openAiEvents(body: unknown): string[] {
  const { choices, usage } = body as Completion;
  const [{ message, finish_reason: finish }] = choices as [Completion['choices'][0]];
  const chunk = (choices: unknown[], extra: object = {}) =>
    `data: ${JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 0, model: 'fake-model', choices, ...extra })}\n\n`;
  const delta = (d: object, finishReason: string | null = null) =>
    chunk([{ index: 0, delta: d, finish_reason: finishReason }]);
  return [
    delta({ role: 'assistant', content: '' }),
    ...pieces(message.content ?? '').map((content) => delta({ content })),
    ...(message.tool_calls ?? []).flatMap((call, index) => [
      delta({
        tool_calls: [
          { index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } },
        ],
      }),
      ...pieces(call.function.arguments, 3).map((args) =>
        delta({ tool_calls: [{ index, function: { arguments: args } }] }),
      ),
    ]),
    delta({}, finish),
    chunk([], { usage }),
    'data: [DONE]\n\n',
  ];
}
export const openAiBaseUrl = (server: FakeServer) => `${server.url}/v1`;

/** Prompt and completion tokens, and how many of the prompt's OpenAI served from its cache. */
type Tokens = [input: number, output: number, cached?: number];

const usage = (input: number, output: number, cached?: number) => ({
  prompt_tokens: input,
  completion_tokens: output,
  total_tokens: input + output,
  ...(cached !== undefined ? { prompt_tokens_details: { cached_tokens: cached } } : {}),
});

const completion = (message: Record<string, unknown>, finish: string, tokens: Tokens) => ({
  body: {
    id: 'chatcmpl-fake',
    object: 'chat.completion',
    created: 0,
    model: 'fake-model',
    choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finish }],
    usage: usage(...tokens),
  },
});

export const openAiText = (content: string, tokens: Tokens = [10, 5]): FakeReply =>
  completion({ content }, 'stop', tokens);

export const openAiToolCalls = (calls: Omit<ToolCall, 'id'>[], tokens: Tokens = [10, 5]): FakeReply =>
  completion(
    {
      content: null,
      tool_calls: calls.map((call, i) => ({
        id: `call_${i}`,
        type: 'function',
        function: { name: call.name, arguments: JSON.stringify(call.input) },
      })),
    },
    'tool_calls',
    tokens,
  );

export const openAiError = (
  status: number,
  message: string,
  headers: Record<string, string> = {},
): FakeReply => ({
  status,
  headers,
  body: { error: { message, type: 'fake_error', code: null } },
});

/** The tool results the executor sent back in a request, by call id. */
export const openAiToolResults = (request: FakeRequest): Record<string, string> =>
  Object.fromEntries(
    (request.body.messages as { role: string; tool_call_id?: string; content: string }[])
      .filter((m) => m.role === 'tool')
      .map((m) => [m.tool_call_id, m.content]),
  );

export const openAiSystemPrompt = (request: FakeRequest): string => request.body.messages[0].content;
export const openAiToolNames = (request: FakeRequest): string[] =>
  (request.body.tools ?? []).map((t: { function: { name: string } }) => t.function.name);
