/**
 * What a delegating agent reads back: one tool result per `task` /
 * `parallel_task` call, laid out as a3s-code lays it out (without its
 * artifact lines, which point into a store TAO does not have). Each task's
 * output is cut as a3s cuts it, so a fan-out of long answers does not flood
 * the parent's context; the whole output stays in the child step's outcome.
 */
import type { DelegationResult, StepOutcome } from '../../contracts';
import type { ToolResult } from './chat';
import type { DelegatedCall } from './resume';

/** a3s-code's TASK_OUTPUT_CONTEXT_* limits, in UTF-8 bytes. */
const KEEP_WHOLE_BYTES = 4000;
const HEAD_BYTES = 3000;
const TAIL_BYTES = 800;

export interface Compacted {
  text: string;
  /** The UTF-8 size of the whole text. */
  bytes: number;
  truncated: boolean;
}

/**
 * Text of at most 4000 UTF-8 bytes as is; longer text as its first 3000 and
 * last 800 bytes around a note of what was left out, both cuts on character
 * boundaries (so no character is split into U+FFFD).
 */
export function compactForParent(text: string): Compacted {
  const utf8 = Buffer.from(text, 'utf8');
  if (utf8.length <= KEEP_WHOLE_BYTES) return { text, bytes: utf8.length, truncated: false };
  const continues = (index: number) => (utf8[index]! & 0b1100_0000) === 0b1000_0000;
  let headEnd = HEAD_BYTES;
  while (headEnd > 0 && continues(headEnd)) headEnd--;
  let tailStart = utf8.length - TAIL_BYTES;
  while (tailStart < utf8.length && continues(tailStart)) tailStart++;
  const head = utf8.subarray(0, headEnd).toString('utf8');
  const tail = utf8.subarray(tailStart).toString('utf8');
  const omitted = tailStart - headEnd;
  return {
    text: `${head}\n\n[${omitted} bytes omitted from delegated task output]\n\n${tail}`,
    bytes: utf8.length,
    truncated: true,
  };
}

/**
 * The tool result for one delegation call. `task` reads as its one task's
 * block and fails when the task did; `parallel_task` lists every task and
 * succeeds when all did, or, with allow_partial_failure, when at least one did.
 */
export function delegationToolResult(call: DelegatedCall, result: DelegationResult): ToolResult {
  const { outcomes } = result;
  if (call.tool === 'task') {
    const only = outcomes[0]!;
    return { callId: call.callId, content: taskBlock(only), isError: !only.success };
  }
  const succeeded = outcomes.filter((outcome) => outcome.success).length;
  const failed = outcomes.length - succeeded;
  const blocks = outcomes.map(
    (outcome, index) =>
      `--- Task ${index + 1} (${outcome.agent}) [${outcome.success ? 'OK' : 'ERR'}] ---\n${taskBlock(outcome)}\n\n`,
  );
  const tolerated =
    call.allowPartialFailure && succeeded > 0 && failed > 0
      ? `Partial failure tolerated: ${succeeded} succeeded, ${failed} failed.\n`
      : '';
  return {
    callId: call.callId,
    content: `Executed ${outcomes.length} tasks concurrently:\n\n${blocks.join('')}${tolerated}`,
    isError: !(failed === 0 || (call.allowPartialFailure && succeeded > 0)),
  };
}

function taskBlock(outcome: StepOutcome): string {
  const output = compactForParent(outcome.output);
  // A failed outcome often is its error (a crash, a refusal); it is shown once.
  const error =
    !outcome.success && outcome.error && outcome.error !== outcome.output ? outcome.error : undefined;
  // Structured output is the answer again, parsed: as long, so cut the same way.
  const structured =
    outcome.structured === undefined ? undefined : compactForParent(JSON.stringify(outcome.structured)).text;
  return [
    `Task ${outcome.success ? 'completed' : 'failed'}: ${outcome.taskId}`,
    `Agent: ${outcome.agent}`,
    ...(outcome.sessionId ? [`Session: ${outcome.sessionId}`] : []),
    `Task ID: ${outcome.taskId}`,
    ...(error !== undefined ? [`Error: ${error}`] : []),
    ...(structured !== undefined ? [`Structured: ${structured}`] : []),
    output.truncated
      ? `Output excerpt: truncated for parent context (${output.bytes} bytes in full, kept in the outcome of step ${outcome.taskId}).`
      : 'Output:',
    output.text,
  ].join('\n');
}
