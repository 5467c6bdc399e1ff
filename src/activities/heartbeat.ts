/**
 * What a running agent step keeps in its activity's heartbeat details: the
 * executor's latest progress, the tail of its live output, and the state a
 * retry resumes from. Every beat carries all three, because each heartbeat
 * replaces the last one's details; a retried attempt reads them back from
 * `Context.info.heartbeatDetails`. None of it is written to history. The
 * state is also kept in the checkpoint store (see ./step-state), which the
 * heartbeat throttle does not delay.
 */
import { z } from 'zod';
import type { ResumePoint } from './step-state';

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
  /** How many states the step saved to get to `resume` (see ./step-state); absent from older workers' beats. */
  seq: z.number().int().nonnegative().optional(),
});
export type StepHeartbeat = z.infer<typeof StepHeartbeatSchema>;

/** The state an earlier attempt of `taskId` saved, if the details are ours and for this step. */
export function resumePointFrom(details: unknown, taskId: string): ResumePoint {
  // A first attempt has none; a failed parse would build a ZodError for nothing, on every step.
  if (details === undefined) return { seq: 0 };
  const parsed = StepHeartbeatSchema.safeParse(details);
  if (!parsed.success || parsed.data.taskId !== taskId || parsed.data.resume === undefined) return { seq: 0 };
  return { state: parsed.data.resume, seq: parsed.data.seq ?? 0 };
}

export function outputTail(text: string): string {
  return text.length > OUTPUT_TAIL_CHARS ? text.slice(-OUTPUT_TAIL_CHARS) : text;
}
