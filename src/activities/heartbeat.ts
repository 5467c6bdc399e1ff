/**
 * What a running agent step keeps in its activity's heartbeat details: the
 * executor's latest progress, the tail of its live output, and the state a
 * retry resumes from. Every beat carries all three, because each heartbeat
 * replaces the last one's details; a retried attempt reads them back from
 * `Context.info.heartbeatDetails`. None of it is written to history.
 */
import { z } from 'zod';

/** Enough of an answer or a program's output to see what it is doing; the Web UI shows it whole. */
export const OUTPUT_TAIL_CHARS = 4 * 1024;

export const StepHeartbeatSchema = z.object({
  taskId: z.string(),
  /** The executor's own progress (an llm step's round and tokens so far). */
  info: z.unknown().optional(),
  /** The last {@link OUTPUT_TAIL_CHARS} characters of the step's output so far. */
  output: z.string().optional(),
  /** What the executor saved for a retry to go on from. */
  resume: z.unknown().optional(),
});
export type StepHeartbeat = z.infer<typeof StepHeartbeatSchema>;

/** The state an earlier attempt of `taskId` saved, if the details are ours and for this step. */
export function resumeStateFrom(details: unknown, taskId: string): unknown {
  // A first attempt has none; a failed parse would build a ZodError for nothing, on every step.
  if (details === undefined) return undefined;
  const parsed = StepHeartbeatSchema.safeParse(details);
  return parsed.success && parsed.data.taskId === taskId ? parsed.data.resume : undefined;
}

export function outputTail(text: string): string {
  return text.length > OUTPUT_TAIL_CHARS ? text.slice(-OUTPUT_TAIL_CHARS) : text;
}
