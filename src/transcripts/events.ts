/**
 * A step's transcript: what happened inside one agent step, as an event log
 * kept in the checkpoint store (never in workflow history, which grows by
 * nothing per turn or chunk). The executor reports events through the
 * {@link StepEvents} seam; the worker stamps each with its attempt and time,
 * the store numbers it.
 *
 * Invariants:
 * - `seq` is assigned by the store, one step's events numbered 1, 2, … in the
 *   order they landed, so writers in several attempts (a killed one still
 *   flushing, its retry on another host) never collide; readers resume after
 *   the last `seq` they saw.
 * - An event is at most {@link TRANSCRIPT_LIMITS.eventBytes} of JSON: a longer
 *   string is cut to its head and tail and the event says `truncated`. A tool
 *   result is cut further, to {@link TRANSCRIPT_LIMITS.toolResultChars}.
 * - A step keeps at most {@link TRANSCRIPT_LIMITS.stepBytes} of events: past
 *   that a store keeps the first ones and drops the rest, except attempt
 *   boundaries and step ends, which are always kept; each attempt's end event
 *   counts the events it dropped.
 */
import { z } from 'zod';

export const TRANSCRIPT_LIMITS = {
  /** Longest JSON of one event; longer strings in it are cut head and tail. */
  eventBytes: 16 * 1024,
  /** A tool's result or a delegated task's answer, as the transcript keeps it. */
  toolResultChars: 4 * 1024,
  /** What one step keeps in all, over all its attempts. */
  stepBytes: 4 * 1024 * 1024,
  /** Streamed text is gathered this long into one `text-delta` event. */
  deltaMs: 100,
} as const;

const round = z.number().int().min(0);
const TokensSchema = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  cacheReadTokens: z.number().int().nonnegative(),
  cacheWriteTokens: z.number().int().nonnegative(),
});

/** What an executor reports; the worker adds `attempt` and `timeMs`, the store `seq`. */
export const StepEventBodySchema = z.discriminatedUnion('kind', [
  /** An attempt began; `resumedAtRound` when it went on from a saved conversation that had answered that many turns. */
  z.object({ kind: z.literal('attempt-start'), resumedAtRound: round.optional() }),
  z.object({ kind: z.literal('turn-start'), round }),
  /** Text streamed since the last delta of this turn. */
  z.object({ kind: z.literal('text-delta'), round, text: z.string() }),
  /** The answered turn, with what this one model call consumed and cost. */
  z.object({
    kind: z.literal('turn-end'),
    round,
    text: z.string(),
    finish: z.string(),
    model: z.string(),
    usage: TokensSchema.extend({ costUsd: z.number().nonnegative().optional() }),
  }),
  /** `input`: the arguments as JSON text. */
  z.object({
    kind: z.literal('tool-call'),
    round,
    callId: z.string(),
    name: z.string(),
    input: z.string(),
  }),
  z.object({
    kind: z.literal('tool-result'),
    round,
    callId: z.string(),
    content: z.string(),
    isError: z.boolean(),
  }),
  /**
   * A message a person sent the step (`tao say`), given to the agent as a
   * user turn before its next call; `number`: the run's number for it.
   */
  z.object({ kind: z.literal('message'), number: z.number().int().positive(), text: z.string() }),
  /**
   * A tool call an `ask` rule of the agent's toolApproval matched: `asked`
   * (the attempt ends and a person decides), then, on the attempt that goes
   * on, `approved` (`input`: the arguments as JSON text, when a person
   * edited them) or `rejected`, with the person's comment.
   */
  z.object({
    kind: z.literal('tool-decision'),
    callId: z.string(),
    decision: z.enum(['asked', 'approved', 'rejected']),
    rule: z.string().optional(),
    comment: z.string().optional(),
    input: z.string().optional(),
  }),
  /** A `task` / `parallel_task` call handed to the workflow. */
  z.object({
    kind: z.literal('delegated'),
    round,
    callId: z.string(),
    tool: z.string(),
    tasks: z.array(z.object({ agent: z.string(), description: z.string() })),
  }),
  /** The delegated tasks of one call came back (on the attempt that resumed with them). */
  z.object({
    kind: z.literal('delegation-result'),
    callId: z.string(),
    outcomes: z.array(z.object({ taskId: z.string(), success: z.boolean(), output: z.string() })),
  }),
  /**
   * The attempt ended: with the step's outcome (`success`, `failed`: the step
   * ended), by handing tasks to the workflow (`delegated`: a later attempt goes
   * on with their results), by asking a person (`asked`: a question or a tool
   * call; a later attempt goes on with the answer or decision), or by throwing (`crashed`: retried when the policy allows).
   */
  z.object({
    kind: z.literal('attempt-end'),
    result: z.enum(['success', 'failed', 'delegated', 'asked', 'crashed']),
    error: z.string().optional(),
    /** Events this attempt reported that the step's limit dropped. */
    droppedEvents: z.number().int().positive().optional(),
  }),
]);
export type StepEventBody = z.infer<typeof StepEventBodySchema>;

const EventStampSchema = z.object({
  attempt: z.number().int().positive(),
  timeMs: z.number().int().nonnegative(),
  /** Some string in it was cut to its head and tail. */
  truncated: z.literal(true).optional(),
});
const SeqSchema = z.object({ seq: z.number().int().positive() });

/** An event as written, before the store numbers it. */
export type UnnumberedEvent = StepEventBody & z.infer<typeof EventStampSchema>;
export type StepEvent = UnnumberedEvent & z.infer<typeof SeqSchema>;
export const StepEventSchema: z.ZodType<StepEvent> = z.intersection(
  StepEventBodySchema,
  EventStampSchema.merge(SeqSchema),
);

/**
 * Where an executor reports its step's events. Reporting never waits and
 * never fails the step: the worker writes in the background and logs what it
 * could not write.
 */
export interface StepEvents {
  emit(event: StepEventBody): void;
}

/** Kinds a step keeps past its limit: without them a reader cannot tell attempts apart or see the end. */
export const ALWAYS_KEPT: ReadonlySet<StepEventBody['kind']> = new Set(['attempt-start', 'attempt-end']);

/** `text` cut to at most `max` characters: its head and tail, with what was left out said between. */
export function headAndTail(text: string, max: number): string {
  if (text.length <= max) return text;
  const half = Math.floor((max - 40) / 2);
  return `${text.slice(0, half)}\n… [${text.length - 2 * half} characters cut] …\n${text.slice(-half)}`;
}

/** `event` within {@link TRANSCRIPT_LIMITS.eventBytes}: its longest strings cut until it fits, and marked. */
export function withinEventLimit<E extends UnnumberedEvent>(event: E): E {
  let json = JSON.stringify(event);
  if (Buffer.byteLength(json) <= TRANSCRIPT_LIMITS.eventBytes) return event;
  let cut: E = { ...event, truncated: true };
  // Each pass halves what every long string may keep; a few passes fit any event.
  for (let max = TRANSCRIPT_LIMITS.eventBytes / 2; max >= 64; max /= 2) {
    cut = mapStrings(cut, (text) => headAndTail(text, max / 2));
    json = JSON.stringify(cut);
    if (Buffer.byteLength(json) <= TRANSCRIPT_LIMITS.eventBytes) break;
  }
  return cut;
}

/** `value` with every string in it, at any depth, replaced by `map` of it. */
export function mapStrings<T>(value: T, map: (text: string) => string): T {
  if (typeof value === 'string') return map(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => mapStrings(item, map)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, mapStrings(item, map)])) as T;
  }
  return value;
}

/** A step's transcript as a reader gets it. */
export interface Transcript {
  workflowId: string;
  taskId: string;
  /** Oldest first; only those after the `afterSeq` asked for. */
  events: StepEvent[];
  /** The highest `seq` the step holds. */
  lastSeq: number;
}

/** Which step: the workflow that ran it and its task id. */
export interface TranscriptKey {
  workflowId: string;
  taskId: string;
}

const keyPart = z
  .string()
  .min(1)
  .max(512)
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters');

/** Ids every store can hold as they are; a clear error naming the fix otherwise. */
export function checkTranscriptKey(key: TranscriptKey): TranscriptKey {
  for (const [name, value] of Object.entries(key)) {
    const parsed = keyPart.safeParse(value);
    if (!parsed.success) {
      throw new Error(
        `bad transcript ${name} ${JSON.stringify(value).slice(0, 80)}: ${parsed.error.issues[0]!.message}; give the id as tao status shows it`,
      );
    }
  }
  return key;
}

/** One step's transcript as a listing names it: the retention path (`tao gc`) reads these. */
export interface TranscriptSummary extends TranscriptKey {
  /** When its last event landed (the store's clock, not the event's `timeMs`). */
  lastEventMs: number;
  /** What it takes in the store: its events as JSON lines. */
  bytes: number;
}

/**
 * The transcript half of the checkpoint store. Every backend follows the
 * invariants above; the contract suite (test/stores/transcript-contract.ts)
 * holds each to them.
 */
export interface TranscriptStore {
  /**
   * Numbers `events` after those held, in order, and keeps them, except those
   * the step's limit drops (see {@link keepWithinStepLimit}); resolves to how
   * many were dropped.
   */
  appendTranscript(key: TranscriptKey, events: readonly UnnumberedEvent[]): Promise<number>;
  /** `undefined` when the step has none. */
  readTranscript(key: TranscriptKey, afterSeq?: number): Promise<Transcript | undefined>;
  /** Removes one step's transcript, or every step's of the workflow without a task id; resolves to how many steps'. */
  deleteTranscripts(workflowId: string, taskId?: string): Promise<number>;
  /** Every step's transcript the store holds, in no particular order. */
  listTranscripts(): Promise<TranscriptSummary[]>;
}

/**
 * Which of `events` (as JSON lines) a step holding `heldBytes` keeps: in
 * order, while the step stays within its limit, and the kinds always kept.
 */
export function keepWithinStepLimit(
  heldBytes: number,
  events: readonly UnnumberedEvent[],
): { kept: { event: UnnumberedEvent; json: string }[]; bytes: number; dropped: number } {
  let bytes = heldBytes;
  let dropped = 0;
  const kept: { event: UnnumberedEvent; json: string }[] = [];
  for (const event of events) {
    const json = JSON.stringify(event);
    // Counted as a JSON line, newline and all, the way the file store holds it.
    const size = Buffer.byteLength(json) + 1;
    if (bytes + size > TRANSCRIPT_LIMITS.stepBytes && !ALWAYS_KEPT.has(event.kind)) {
      dropped++;
      continue;
    }
    bytes += size;
    kept.push({ event, json });
  }
  return { kept, bytes, dropped };
}

/**
 * A step's events after `afterSeq` from its stored JSON lines, where an
 * event's `seq` is its line's place: a line that does not parse as an event
 * (one from a newer build) keeps its number and is left out.
 */
export function eventsAfter(lines: readonly string[], afterSeq: number): StepEvent[] {
  return lines
    .slice(afterSeq)
    .map((json, index) => parseStoredEvent(json, afterSeq + index + 1))
    .filter((event): event is StepEvent => event !== undefined);
}

/** A stored line back as an event; `undefined` for one that does not parse. */
export function parseStoredEvent(json: string, seq: number): StepEvent | undefined {
  try {
    const parsed = StepEventSchema.safeParse({ ...JSON.parse(json), seq });
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
