/**
 * The chat-completions request rules the fake OpenAI server enforces, so a
 * conversation TAO rebuilds (resume, delegation, messages) that OpenAI would
 * refuse fails in tests as it would in production. Each rule answers with
 * OpenAI's own 400 text, as its API returned it in the reports cited:
 * - `messages` is a non-empty array: "Invalid 'messages': empty array…", code
 *   `empty_array` (openai responses quoted in CopilotKit/CopilotKit#529,
 *   microsoft/agent-framework#2384);
 * - every role is one OpenAI knows: "Invalid value: '…'. Supported values
 *   are…", code `invalid_value` (the API reference's message roles: system,
 *   developer, user, assistant, tool, function);
 * - an assistant message with `tool_calls` is followed by one `tool` message
 *   per call id before any other message: "An assistant message with
 *   'tool_calls' must be followed by tool messages responding to each
 *   'tool_call_id'…" (microsoft/promptflow#3130);
 * - a `tool` message answers a call of that assistant message, once: "Invalid
 *   parameter: messages with role 'tool' must be a response to a preceeding
 *   message with 'tool_calls'." with param `messages.[i].role` (OpenAI's
 *   spelling, quoted in simonw/llm#937 and miurla/morphic#136);
 * - a call's `function.arguments` is a string: "Invalid type for
 *   '…function.arguments': expected a string, but got an object instead.",
 *   code `invalid_type` (aaif-goose/goose-mobile#20). That the string must
 *   parse as JSON is the issue's rule: OpenAI's wording for it was not found,
 *   so the message here is ours.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- request bodies are read as sent
type Body = any;

export interface OpenAiProblem {
  message: string;
  param: string | null;
  code: string | null;
}

const ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'];

/** What OpenAI would refuse in `body`, or undefined for a request it accepts. */
export function openAiRequestProblem(body: Body): OpenAiProblem | undefined {
  const messages = body?.messages;
  if (!Array.isArray(messages)) {
    return problem(`Invalid type for 'messages': expected an array.`, 'messages', 'invalid_type');
  }
  if (messages.length === 0) {
    return problem(
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      'messages',
      'empty_array',
    );
  }
  /** Ids of the latest assistant message's calls that no tool message has answered yet. */
  let unanswered: { at: number; ids: Set<string> } | undefined;
  for (const [i, message] of messages.entries()) {
    const role = message?.role;
    if (!ROLES.includes(role)) {
      return problem(
        `Invalid value: '${String(role)}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`,
        `messages[${i}].role`,
        'invalid_value',
      );
    }
    if (role === 'tool') {
      if (!unanswered?.ids.delete(message.tool_call_id)) {
        return problem(
          "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
          `messages.[${i}].role`,
          null,
        );
      }
      continue;
    }
    const missing = missingAnswers(unanswered);
    if (missing) return missing;
    unanswered = undefined;
    if (role === 'assistant' && Array.isArray(message.tool_calls) && message.tool_calls.length > 0) {
      const bad = badArguments(message.tool_calls, i);
      if (bad) return bad;
      unanswered = { at: i, ids: new Set(message.tool_calls.map((call: Body) => call.id)) };
    }
  }
  return missingAnswers(unanswered);
}

function missingAnswers(unanswered: { at: number; ids: Set<string> } | undefined): OpenAiProblem | undefined {
  if (!unanswered || unanswered.ids.size === 0) return undefined;
  return problem(
    `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...unanswered.ids].join(', ')}`,
    `messages.[${unanswered.at}].role`,
    null,
  );
}

function badArguments(calls: Body[], at: number): OpenAiProblem | undefined {
  for (const [j, call] of calls.entries()) {
    const param = `messages[${at}].tool_calls[${j}].function.arguments`;
    const args = call?.function?.arguments;
    if (typeof args !== 'string') {
      return problem(
        `Invalid type for '${param}': expected a string, but got ${args === null ? 'null' : `a${typeof args === 'object' ? 'n' : ''} ${typeof args}`} instead.`,
        param,
        'invalid_type',
      );
    }
    try {
      JSON.parse(args);
    } catch {
      return problem(
        `Invalid '${param}': expected a JSON string, but got ${JSON.stringify(args)}.`,
        param,
        null,
      );
    }
  }
  return undefined;
}

const problem = (message: string, param: string | null, code: string | null): OpenAiProblem => ({
  message,
  param,
  code,
});
