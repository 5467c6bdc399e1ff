/**
 * The fake providers refuse what the real APIs refuse (test/support/openai-rules.ts,
 * anthropic-rules.ts), over HTTP as the executor meets them, and answer a
 * well-formed multi-turn tool conversation.
 */
import { anthropicText, startFakeAnthropic } from '../support/fake-anthropic';
import type { FakeServer } from '../support/fake-http';
import { openAiText, startFakeOpenAI } from '../support/fake-openai';

async function post(
  server: FakeServer,
  path: string,
  body: unknown,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read provider answers freely
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

const call = (id: string, args = '{"path":"a.ts"}') => ({
  id,
  type: 'function',
  function: { name: 'read_file', arguments: args },
});
const calls = (...ids: string[]) => ({
  role: 'assistant',
  content: null,
  tool_calls: ids.map((id) => call(id)),
});
const result = (id: string) => ({ role: 'tool', tool_call_id: id, content: 'export const a = 1;' });
const system = { role: 'system', content: 'You are a test.' };
const user = (content = 'Read a.ts') => ({ role: 'user', content });

describe('the fake OpenAI server', () => {
  let server: FakeServer;
  beforeAll(async () => {
    server = await startFakeOpenAI(() => openAiText('done'));
  });
  afterAll(() => server.close());
  const send = (messages: unknown) => post(server, '/v1/chat/completions', { model: 'm', messages });

  it('answers a multi-turn conversation of parallel tool calls and their results', async () => {
    const answer = await send([
      system,
      user(),
      calls('call_0', 'call_1'),
      result('call_1'),
      result('call_0'),
      { role: 'assistant', content: 'Read both.' },
      user('Now b.ts'),
      calls('call_2'),
      result('call_2'),
    ]);
    expect(answer.status).toBe(200);
    expect(answer.body.choices[0].message.content).toBe('done');
  });

  it.each([
    ['no messages', [], 'messages', 'empty_array', /empty array/],
    ['messages that are no array', 'hello', 'messages', 'invalid_type', /expected an array/],
    [
      'an unknown role',
      [system, { role: 'human', content: 'hi' }],
      'messages[1].role',
      'invalid_value',
      /'human'/,
    ],
    [
      'a call left unanswered at the end',
      [user(), calls('call_0', 'call_1'), result('call_0')],
      'messages.[1].role',
      null,
      /did not have response messages: call_1$/,
    ],
    [
      'another message before every call is answered',
      [user(), calls('call_0', 'call_1'), result('call_0'), user('and?'), result('call_1')],
      'messages.[1].role',
      null,
      /tool_call_ids did not have response messages: call_1$/,
    ],
    [
      'a result answering no call',
      [user(), calls('call_0'), result('call_9')],
      'messages.[2].role',
      null,
      /must be a response to a preceeding message with 'tool_calls'/,
    ],
    [
      'a second result for one call',
      [user(), calls('call_0'), result('call_0'), result('call_0')],
      'messages.[3].role',
      null,
      /must be a response to a preceeding message with 'tool_calls'/,
    ],
    [
      'a result after the answer to its call',
      [user(), calls('call_0'), result('call_0'), { role: 'assistant', content: 'ok' }, result('call_0')],
      'messages.[4].role',
      null,
      /must be a response to a preceeding message with 'tool_calls'/,
    ],
    [
      'arguments that are not JSON',
      [user(), { role: 'assistant', tool_calls: [call('call_0', '{"path":')] }, result('call_0')],
      'messages[1].tool_calls[0].function.arguments',
      null,
      /expected a JSON string/,
    ],
    [
      'arguments sent as an object',
      [
        user(),
        { role: 'assistant', tool_calls: [{ ...call('call_0'), function: { name: 'x', arguments: {} } }] },
      ],
      'messages[1].tool_calls[0].function.arguments',
      'invalid_type',
      /expected a string, but got an object/,
    ],
  ])('refuses %s with OpenAI’s 400', async (_, messages, param, code, message) => {
    const answer = await send(messages);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      error: { type: 'invalid_request_error', param, code, message: expect.stringMatching(message) },
    });
  });
});

const toolUse = (...ids: string[]) => ({
  role: 'assistant',
  content: ids.map((id) => ({ type: 'tool_use', id, name: 'read_file', input: { path: 'a.ts' } })),
});
const toolResults = (...ids: string[]) => ({
  role: 'user',
  content: ids.map((id) => ({ type: 'tool_result', tool_use_id: id, content: 'export const a = 1;' })),
});
const said = (role: string, text: string) => ({ role, content: [{ type: 'text', text }] });

describe('the fake Anthropic server', () => {
  let server: FakeServer;
  beforeAll(async () => {
    server = await startFakeAnthropic(() => anthropicText('done'));
  });
  afterAll(() => server.close());
  const send = (messages: unknown) =>
    post(server, '/v1/messages', { model: 'm', max_tokens: 10, system: 'You are a test.', messages });

  it('answers a multi-turn tool conversation, with a note after the results and turns of one role in a row', async () => {
    const answer = await send([
      said('user', 'Read a.ts'),
      toolUse('toolu_0', 'toolu_1'),
      {
        role: 'user',
        content: [...toolResults('toolu_1', 'toolu_0').content, { type: 'text', text: 'And b?' }],
      },
      said('assistant', 'Reading b.'),
      toolUse('toolu_2'),
      toolResults('toolu_2'),
      // The API merges consecutive turns of one role rather than refusing them.
      said('user', 'Also c.ts'),
    ]);
    expect(answer.status).toBe(200);
    expect(answer.body.content).toEqual([{ type: 'text', text: 'done' }]);
  });

  it.each([
    ['no messages', [], /at least one message/],
    ['an unknown role', [said('system', 'hi')], /^messages\.0\.role: Input should be 'user' or 'assistant'$/],
    ['a conversation the assistant opens', [said('assistant', 'Hi'), said('user', 'Hi')], /first message/],
    [
      'an empty message before the last',
      [said('user', 'Hi'), { role: 'assistant', content: [] }, said('user', 'Hi?')],
      /^messages\.1: all messages must have non-empty content/,
    ],
    [
      'a tool input that is no object',
      [
        said('user', 'Hi'),
        { role: 'assistant', content: [{ ...toolUse('toolu_0').content[0], input: '{"path":' }] },
      ],
      /^messages\.1\.content\.0\.tool_use\.input: Input should be a valid dictionary$/,
    ],
    [
      'a call whose result is missing',
      [said('user', 'Hi'), toolUse('toolu_0', 'toolu_1'), toolResults('toolu_0')],
      /^messages\.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1\./,
    ],
    [
      'a call left unanswered at the end',
      [said('user', 'Hi'), toolUse('toolu_0')],
      /^messages\.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_0\./,
    ],
    [
      'results a message too late',
      [said('user', 'Hi'), toolUse('toolu_0'), said('user', 'Well?'), toolResults('toolu_0')],
      /^messages\.1: `tool_use` ids were found without/,
    ],
    [
      'text before the results',
      [
        said('user', 'Hi'),
        toolUse('toolu_0'),
        { role: 'user', content: [{ type: 'text', text: 'Here:' }, ...toolResults('toolu_0').content] },
      ],
      /^messages\.2: Did not find 1 tool_result block\(s\) at the beginning of this message/,
    ],
    [
      'a result answering no call',
      [said('user', 'Hi'), toolUse('toolu_0'), toolResults('toolu_0', 'toolu_9')],
      /^messages\.2\.content\.1: unexpected `tool_use_id` found in `tool_result` blocks: toolu_9\./,
    ],
    [
      'a result with no call before it',
      [said('user', 'Hi'), said('assistant', 'Hello'), toolResults('toolu_0')],
      /^messages\.2\.content\.0: unexpected `tool_use_id`/,
    ],
  ])('refuses %s with Anthropic’s 400', async (_, messages, message) => {
    const answer = await send(messages);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.stringMatching(message) },
    });
  });
});
