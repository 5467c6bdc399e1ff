/**
 * The a3s on-disk checkpoint format (snake_case JSON), so checkpoints written
 * by the Rust implementation resume here and vice versa. Unknown fields from
 * newer writers are ignored when reading and kept when rewriting; a missing
 * `schema_version` means version 0.
 */
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { type CheckpointStep, type WorkflowCheckpoint, describeZodError } from '../contracts';
import { CheckpointUnreadableError, ensureLoadable } from './session-store';

const A3sOutcomeSchema = z.object({
  task_id: z.string().min(1),
  session_id: z.string(),
  agent: z.string(),
  output: z.string(),
  success: z.boolean(),
  structured: z.unknown().optional(),
  error: z.string().optional(),
  // A TAO addition; other a3s readers ignore it as an unknown field.
  usage: z
    .object({
      input_tokens: z.number().int().min(0),
      output_tokens: z.number().int().min(0),
      cache_read_tokens: z.number().int().min(0).optional(),
      cache_write_tokens: z.number().int().min(0).optional(),
      model: z.string(),
      latency_ms: z.number().int().min(0),
      cost_usd: z.number().min(0).optional(),
    })
    .optional(),
});

const A3sStepsSchema = z.array(
  z.object({
    task_id: z.string().min(1),
    outcome: A3sOutcomeSchema,
    // A TAO addition, like usage: the digest of the spec that produced the outcome.
    spec_digest: z.string().optional(),
  }),
);

const A3sCheckpointSchema = z.object({
  schema_version: z.number().int().min(0).default(0),
  workflow_id: z.string(),
  steps: A3sStepsSchema,
  checkpoint_ms: z.number().int().min(0),
});

/** One line of a journal beside an a3s file: steps completed after what the file holds. */
const A3sJournalLineSchema = z.object({ steps: A3sStepsSchema, checkpoint_ms: z.number().int().min(0) });

/** Decodes and checks loadability; every failure is a {@link CheckpointUnreadableError}. */
export function decodeA3sCheckpoint(text: string): WorkflowCheckpoint {
  return decodeA3sFile(text).checkpoint;
}

/**
 * {@link decodeA3sCheckpoint}, with the document as parsed: what a rewrite
 * keeps of it (see {@link a3sCheckpointChunks}) without parsing the text twice.
 */
export function decodeA3sFile(text: string): { checkpoint: WorkflowCheckpoint; document: A3sDocument } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CheckpointUnreadableError(`checkpoint is not JSON: ${(error as Error).message}`);
  }
  const parsed = A3sCheckpointSchema.safeParse(json);
  if (!parsed.success) {
    throw new CheckpointUnreadableError(
      `checkpoint is not in the a3s format: ${describeZodError(parsed.error)}`,
    );
  }
  const raw = parsed.data;
  const checkpoint = ensureLoadable({
    schemaVersion: raw.schema_version,
    workflowId: raw.workflow_id,
    checkpointMs: raw.checkpoint_ms,
    steps: decodeSteps(raw.steps),
  });
  return { checkpoint, document: json as A3sDocument };
}

/** An a3s checkpoint document as parsed, fields TAO does not know included. */
export type A3sDocument = Record<string, unknown>;

/**
 * The batches of a journal's text, in order, and the length of its text up
 * to the last complete line: a crash mid-write leaves a partial last line,
 * which is ignored (its steps were never acknowledged) and cut on the next
 * append. A complete line that does not decode makes the checkpoint unreadable.
 */
export function decodeA3sJournal(text: string): {
  batches: { steps: CheckpointStep[]; checkpointMs: number }[];
  completeLength: number;
} {
  const completeLength = text.lastIndexOf('\n') + 1;
  const batches = text
    .slice(0, completeLength)
    .split('\n')
    .filter(Boolean)
    .map((line, index) => {
      let parsed;
      try {
        parsed = A3sJournalLineSchema.safeParse(JSON.parse(line));
      } catch (error) {
        throw new CheckpointUnreadableError(
          `journal line ${index + 1} is not JSON: ${(error as Error).message}`,
        );
      }
      if (!parsed.success)
        throw new CheckpointUnreadableError(`journal line ${index + 1}: ${describeZodError(parsed.error)}`);
      return { steps: decodeSteps(parsed.data.steps), checkpointMs: parsed.data.checkpoint_ms };
    });
  return { batches, completeLength };
}

/** One journal line, newline included. */
export function encodeA3sJournalLine(steps: readonly CheckpointStep[], checkpointMs: number): string {
  return `${JSON.stringify({ steps: encodeSteps(steps), checkpoint_ms: checkpointMs })}\n`;
}

/** The a3s JSON array of `steps`, as they appear in a document's `steps`. */
export function encodeA3sSteps(steps: readonly CheckpointStep[]): string {
  return JSON.stringify(encodeSteps(steps));
}

function decodeSteps(steps: z.infer<typeof A3sStepsSchema>): CheckpointStep[] {
  return steps.map(({ task_id, outcome, spec_digest }) => ({
    taskId: task_id,
    ...(spec_digest !== undefined ? { specDigest: spec_digest } : {}),
    outcome: {
      taskId: outcome.task_id,
      sessionId: outcome.session_id,
      agent: outcome.agent,
      output: outcome.output,
      success: outcome.success,
      // a3s writes `structured: null` for "none"; TAO's contract leaves it absent.
      ...(outcome.structured != null ? { structured: outcome.structured } : {}),
      ...(outcome.error !== undefined ? { error: outcome.error } : {}),
      ...(outcome.usage
        ? {
            usage: {
              inputTokens: outcome.usage.input_tokens,
              outputTokens: outcome.usage.output_tokens,
              ...(outcome.usage.cache_read_tokens !== undefined
                ? { cacheReadTokens: outcome.usage.cache_read_tokens }
                : {}),
              ...(outcome.usage.cache_write_tokens !== undefined
                ? { cacheWriteTokens: outcome.usage.cache_write_tokens }
                : {}),
              model: outcome.usage.model,
              latencyMs: outcome.usage.latency_ms,
              ...(outcome.usage.cost_usd !== undefined ? { costUsd: outcome.usage.cost_usd } : {}),
            },
          }
        : {}),
    },
  }));
}

/**
 * The a3s JSON of `checkpoint`. Given the text it replaces, what TAO does not
 * know in it is carried over: top-level fields, and the extra fields of each
 * step (a3s's `result_receipt`) and of its outcome, for the steps whose
 * outcome is unchanged. A step TAO ran again drops them: a receipt binds the
 * old result, and would not match the new one.
 */
export function encodeA3sCheckpoint(checkpoint: WorkflowCheckpoint, previous?: string): string {
  const before = previous === undefined ? undefined : parseObject(previous);
  return [...a3sCheckpointChunks(checkpoint, before)].join('');
}

/**
 * {@link encodeA3sCheckpoint} in pieces, a step at a time, given the document
 * it replaces as parsed: a file store writes a checkpoint of thousands of
 * outputs without first building it as one string (and one buffer) that size.
 * The pieces join to exactly `JSON.stringify(document, null, 2)`.
 */
export function* a3sCheckpointChunks(
  checkpoint: WorkflowCheckpoint,
  before?: A3sDocument,
): Generator<string> {
  const doc = encodeDocument(checkpoint);
  if (!before) return yield* prettyChunks(doc);
  const oldSteps = new Map<string, Record<string, unknown>>();
  for (const step of Array.isArray(before.steps) ? before.steps : []) {
    if (isObject(step) && typeof step.task_id === 'string') oldSteps.set(step.task_id, step);
  }
  const steps = doc.steps.map((step) => {
    const old = oldSteps.get(step.task_id);
    if (!old || !isObject(old.outcome) || !sameOutcome(old.outcome, step.outcome)) return step;
    return { ...old, ...step, outcome: { ...old.outcome, ...step.outcome } };
  });
  yield* prettyChunks({ ...before, ...doc, steps });
}

/** `JSON.stringify(document, null, 2)`, its `steps` an element at a time. */
function* prettyChunks(document: Record<string, unknown>): Generator<string> {
  // Members JSON.stringify leaves out.
  const members = Object.entries(document).filter(
    ([, value]) => value !== undefined && typeof value !== 'function' && typeof value !== 'symbol',
  );
  yield '{';
  for (const [index, [key, value]] of members.entries()) {
    yield `${index === 0 ? '' : ','}\n  ${JSON.stringify(key)}: `;
    if (key === 'steps' && Array.isArray(value) && value.length > 0) {
      for (const [at, element] of value.entries())
        yield `${at === 0 ? '[' : ','}\n    ${indented(element, 4)}`;
      yield '\n  ]';
    } else {
      yield indented(value, 2);
    }
  }
  yield members.length > 0 ? '\n}' : '}';
}

/** A value's pretty JSON as it reads nested `depth` spaces in (JSON strings hold no raw newline). */
const indented = (value: unknown, depth: number): string =>
  (JSON.stringify(value, null, 2) ?? 'null').replaceAll('\n', `\n${' '.repeat(depth)}`);

/** Equal in every field TAO writes (what a3s wrote as absent or null counts as TAO's null). */
function sameOutcome(old: Record<string, unknown>, now: Record<string, unknown>): boolean {
  return Object.entries(now).every(([field, value]) => isDeepStrictEqual(old[field] ?? null, value ?? null));
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function encodeDocument(checkpoint: WorkflowCheckpoint) {
  return {
    schema_version: checkpoint.schemaVersion,
    workflow_id: checkpoint.workflowId,
    steps: encodeSteps(checkpoint.steps),
    checkpoint_ms: checkpoint.checkpointMs,
  };
}

function encodeSteps(steps: readonly CheckpointStep[]) {
  return steps.map(({ taskId, outcome, specDigest }) => ({
    task_id: taskId,
    ...(specDigest !== undefined ? { spec_digest: specDigest } : {}),
    outcome: {
      task_id: outcome.taskId,
      session_id: outcome.sessionId,
      agent: outcome.agent,
      output: outcome.output,
      success: outcome.success,
      structured: outcome.structured ?? null,
      // Extensions a3s readers ignore: kept only when present.
      ...(outcome.error !== undefined ? { error: outcome.error } : {}),
      ...(outcome.usage
        ? {
            usage: {
              input_tokens: outcome.usage.inputTokens,
              output_tokens: outcome.usage.outputTokens,
              ...(outcome.usage.cacheReadTokens !== undefined
                ? { cache_read_tokens: outcome.usage.cacheReadTokens }
                : {}),
              ...(outcome.usage.cacheWriteTokens !== undefined
                ? { cache_write_tokens: outcome.usage.cacheWriteTokens }
                : {}),
              model: outcome.usage.model,
              latency_ms: outcome.usage.latencyMs,
              ...(outcome.usage.costUsd !== undefined ? { cost_usd: outcome.usage.costUsd } : {}),
            },
          }
        : {}),
    },
  }));
}
