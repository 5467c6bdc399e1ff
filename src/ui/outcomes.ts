/**
 * A batch run's outcomes for `tao ui`'s page (issue #33), read from the
 * outcome store the workers put them in, a page at a time. Pages are keyed
 * by the last seq shown (`after`), which is the store's own keyset: a page
 * deep in a 100,000-outcome run costs what the first does, and the server
 * keeps nothing per page. Going back is the page's business: it keeps the
 * cursors it came by, as the runs list keeps visibility's tokens.
 */
import { z } from 'zod';
import { textHead } from '../client/step-detail';
import type { OutcomeStore, SeqOutcome } from '../outcomes';
import { NotFound } from './api';

/** Outcomes on one page unless the page asks for another size. */
export const DEFAULT_OUTCOMES_PAGE = 100;
const MAX_OUTCOMES_PAGE = 500;
const LIMIT_MESSAGE = `must be a whole number from 1 to ${MAX_OUTCOMES_PAGE}`;
/** How much of an output or error a row shows: its first line, cut. */
export const PREVIEW_CHARS = 120;

/** A seq as a page sends it: decimal digits, a safe integer. */
const seqText = (message: string) =>
  z
    .string()
    .regex(/^\d{1,15}$/, message)
    .transform(Number);

/** `?after=<seq>&failed=1&limit=<n>`: every field checked here, so a bad cursor is a 400 with one line. */
export const OutcomesQuerySchema = z
  .object({
    after: seqText('must be the seq a page of outcomes gave as next (a whole number from 0)').optional(),
    failed: z.enum(['0', '1'], { message: 'must be 1 (failed only) or 0' }).optional(),
    limit: z
      .string()
      .regex(/^\d{1,3}$/, LIMIT_MESSAGE)
      .transform(Number)
      .pipe(z.number().min(1, LIMIT_MESSAGE).max(MAX_OUTCOMES_PAGE, LIMIT_MESSAGE))
      .optional(),
  })
  .strict();
export type OutcomesQuery = z.infer<typeof OutcomesQuerySchema>;

/** One row of the page's table: enough to scan a page, never a whole output. */
export interface OutcomeRow {
  seq: number;
  taskId: string;
  agent: string;
  success: boolean;
  /** The output's first line (the error's, for a failed step), at most {@link PREVIEW_CHARS}, `…` when cut. */
  preview: string;
  inputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
}

export interface OutcomesPage {
  outcomes: OutcomeRow[];
  /** The `after` of the next page; absent on the last. */
  next?: number;
}

/**
 * A page of `run`'s outcomes after `query.after`. One more than the page is
 * read, so the last page says it is the last without a read that finds none.
 */
export async function outcomesPage(
  store: OutcomeStore,
  run: string,
  query: OutcomesQuery,
): Promise<OutcomesPage> {
  const limit = query.limit ?? DEFAULT_OUTCOMES_PAGE;
  const found = await store.list(run, {
    limit: limit + 1,
    failedOnly: query.failed === '1',
    ...(query.after !== undefined ? { after: query.after } : {}),
  });
  const page = found.slice(0, limit);
  return {
    outcomes: page.map(outcomeRow),
    ...(found.length > limit ? { next: page[page.length - 1]!.seq } : {}),
  };
}

function outcomeRow({ seq, outcome }: SeqOutcome): OutcomeRow {
  const text = outcome.success ? outcome.output : (outcome.error ?? outcome.output);
  const { line, cut } = textHead(text, PREVIEW_CHARS);
  const { usage } = outcome;
  return {
    seq,
    taskId: outcome.taskId,
    agent: outcome.agent,
    success: outcome.success,
    preview: cut ? `${line}…` : line,
    ...(usage ? { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens } : {}),
    ...(usage?.costUsd !== undefined ? { costUsd: usage.costUsd } : {}),
  };
}

/** The whole outcome at `seq` (one keyset read of one outcome), for the row a person opened. */
export async function outcomeAt(store: OutcomeStore, run: string, place: string): Promise<SeqOutcome> {
  const seq = seqText('an outcome is named by its seq: a whole number from 0').parse(place);
  const [found] = await store.list(run, { limit: 1, ...(seq > 0 ? { after: seq - 1 } : {}) });
  if (found?.seq !== seq) throw new NotFound(`no outcome ${seq} of ${run} in ${store.location}`);
  return found;
}
