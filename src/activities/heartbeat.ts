/**
 * What a running agent step keeps in its activity's heartbeat details: the
 * executor's latest progress, the tail of its live output, and the state a
 * retry resumes from. Every beat carries all three, because each heartbeat
 * replaces the last one's details; a retried attempt reads them back from
 * `Context.info.heartbeatDetails`. None of it is written to history. The
 * state is also kept in the checkpoint store (see ./step-state), which the
 * heartbeat throttle does not delay.
 *
 * A state larger than {@link HEARTBEAT_STATE_MAX_BYTES} does not ride in the
 * beat when the step's checkpoint store keeps it: the beat says only its
 * number (`storedSeq`), and keeps the last state small enough to ride (with
 * its `seq`), for a retry whose store lost the large one. Otherwise every beat
 * of a long conversation would cross the claim-check threshold and leave a
 * new blob behind (issue #33). Without a store the state always rides.
 */
import { z } from 'zod';
import type { ResumePoint } from './step-state';

/** Enough of an answer or a program's output to see what it is doing; the Web UI shows it whole. */
export const OUTPUT_TAIL_CHARS = 4 * 1024;

/**
 * The largest state (its JSON, in bytes) a beat carries when the checkpoint
 * store keeps it too. Half the claim-check codec's default threshold
 * (src/codec/claim-check.ts, 128 KiB): a beat holding a state this size, an
 * output tail (up to 16 KiB of UTF-8, escaped) and the executor's progress
 * stays under the threshold, so no beat is offloaded to the blob store.
 */
export const HEARTBEAT_STATE_MAX_BYTES = 64 * 1024;

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
  /**
   * A later state than `resume`, too large for a beat, which the step saved
   * to the checkpoint store only: a retry must find it there (or warn).
   */
  storedSeq: z.number().int().nonnegative().optional(),
});
export type StepHeartbeat = z.infer<typeof StepHeartbeatSchema>;

/** The state an earlier attempt of `taskId` saved, if the details are ours and for this step. */
export function resumePointFrom(details: unknown, taskId: string): ResumePoint {
  // A first attempt has none; a failed parse would build a ZodError for nothing, on every step.
  if (details === undefined) return { seq: 0 };
  const parsed = StepHeartbeatSchema.safeParse(details);
  if (!parsed.success || parsed.data.taskId !== taskId) return { seq: 0 };
  const { resume, seq = 0, storedSeq } = parsed.data;
  const point: ResumePoint = resume === undefined ? { seq: 0 } : { state: resume, seq };
  return storedSeq !== undefined && storedSeq > point.seq ? { ...point, storedSeq } : point;
}

/** Whether `state` may ride in a beat of a step whose checkpoint store also keeps it. */
export function fitsInBeat(state: unknown): boolean {
  return Buffer.byteLength(JSON.stringify(state) ?? '') <= HEARTBEAT_STATE_MAX_BYTES;
}

export function outputTail(text: string): string {
  return text.length > OUTPUT_TAIL_CHARS ? text.slice(-OUTPUT_TAIL_CHARS) : text;
}
