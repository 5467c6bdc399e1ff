/**
 * One call of the executor for one attempt, and the check of what it
 * returned: an executor is user code, so its result is validated here, at
 * the boundary, before the workflow or the step cache sees it.
 *
 * Invariant: resolves only with a result that parsed (an outcome, a
 * delegation the workflow offered, a question, or a tool call to decide); anything else is a
 * {@link NonRetryableStepError}, as a retry of the same code returns the same.
 */
import type { z } from 'zod';
import {
  type AgentStepSpec,
  type DelegationRequest,
  DelegationRequestSchema,
  type QuestionRequest,
  QuestionRequestSchema,
  type StepOutcome,
  StepOutcomeSchema,
  type ToolCallRequest,
  ToolCallRequestSchema,
  describeZodError,
} from '../contracts';
import { type AgentExecutor, NonRetryableStepError, type StepContext } from '../executors/executor';

export type CheckedResult =
  | { outcome: StepOutcome }
  | { delegation: DelegationRequest }
  | { question: QuestionRequest }
  | { toolCall: ToolCallRequest };

/**
 * Runs the step; settles as soon as `stalled` rejects, too, so an executor
 * that ignores its aborted signal cannot hold the attempt past its stall limit.
 */
export async function callExecutor(
  executor: AgentExecutor,
  spec: AgentStepSpec,
  context: StepContext,
  stalled: Promise<never>,
): Promise<CheckedResult> {
  const result = await Promise.race([executor.executeStep(spec, context), stalled]);
  if ('delegation' in result) {
    if (!context.delegation) {
      throw new NonRetryableStepError(
        'the executor delegated tasks, but this workflow does not run delegated tasks',
      );
    }
    const request = DelegationRequestSchema.safeParse(result.delegation);
    if (!request.success) {
      throw new NonRetryableStepError(
        `executor returned a bad delegation: ${describeZodError(request.error)}`,
      );
    }
    return { delegation: request.data };
  }
  if ('question' in result)
    return { question: handedBack('question', QuestionRequestSchema, result.question) };
  if ('toolCall' in result) {
    return { toolCall: handedBack('tool call to decide', ToolCallRequestSchema, result.toolCall) };
  }
  const checked = StepOutcomeSchema.safeParse(result);
  if (!checked.success) {
    throw new NonRetryableStepError(`executor returned a bad outcome: ${describeZodError(checked.error)}`);
  }
  return { outcome: checked.data };
}

/** What an executor hands the workflow to wait on, checked: a bad one is the executor's bug, not retried. */
function handedBack<T>(what: string, schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new NonRetryableStepError(`executor returned a bad ${what}: ${describeZodError(parsed.error)}`);
}
