/**
 * The `ask_user` tool, for a profile with `askUser`: the agent asks the
 * person supervising the run a question, optionally with choices. The call is
 * not answered here: the step ends its attempt with its conversation saved
 * (as delegation does), the workflow shows the question as a pending
 * decision of kind `question`, and a later attempt goes on with the answer as
 * the call's result (./hand-back). A call with bad arguments is
 * refused with an error result the model reads.
 */
import { z } from 'zod/v4';
import type { QuestionRequest } from '../../contracts';
import type { ToolCall, ToolResult, ToolSpec } from './chat';
import type { AskUserSettings } from './profiles';
import { ToolError, parseToolArguments, toolParameters } from './tools';

export const ASK_USER = 'ask_user';

const QUESTION_CHARS = 4_000;
const CHOICES = 10;

const AskArguments = z
  .object({
    question: z
      .string()
      .min(1)
      .max(QUESTION_CHARS)
      .describe('Required. The question, on its own: one thing to decide.'),
    choices: z
      .array(z.string().min(1).max(200))
      .min(2)
      .max(CHOICES)
      .optional()
      .describe(
        `Optional. 2 to ${CHOICES} answers to pick from, when the question has a few; the person may still answer otherwise.`,
      ),
  })
  .strict();

/** A question as the executor hands it on: the workflow's request without the state and usage it adds. */
export type AskedQuestion = Omit<QuestionRequest, 'state' | 'usage'>;

/** What a step of a profile with `askUser` offers the model, and how it reviews a call. */
export interface Asker {
  readonly spec: ToolSpec;
  /** The question to hand the workflow (without the state the executor adds), or the error result the model reads. */
  review(call: ToolCall): { asked: AskedQuestion } | { refused: ToolResult };
}

export function askerFor(settings: AskUserSettings | undefined): Asker | undefined {
  if (!settings) return undefined;
  const options = settings === true ? {} : settings;
  return {
    spec: {
      name: ASK_USER,
      description:
        'Ask the person supervising this task a question and wait for the answer, when you cannot go on well without it (an ambiguous requirement, a choice only they can make). The answer comes back as this tool’s result; it may take hours. Do not ask what you can find out yourself.',
      parameters: toolParameters(AskArguments),
    },
    review(call) {
      try {
        const { question, choices } = parseToolArguments(AskArguments, call.input);
        return {
          asked: {
            callId: call.id,
            question,
            ...(choices ? { choices } : {}),
            ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
            ...(options.onTimeout !== undefined ? { onTimeout: options.onTimeout } : {}),
          },
        };
      } catch (error) {
        if (!(error instanceof ToolError)) throw error;
        return { refused: { callId: call.id, content: `error: ${error.message}`, isError: true } };
      }
    },
  };
}
