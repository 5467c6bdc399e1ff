import { ApplicationFailure } from '@temporalio/common';
import { type StepOutcome, StepOutcomeSchema, describeZodError } from '../contracts';

/** One stored outcome: the item's place in its run's source and what its step returned. */
export interface SeqOutcome {
  seq: number;
  outcome: StepOutcome;
}

/** A page of {@link OutcomeStore.list}. */
export interface OutcomePage {
  /** Only outcomes of items after this place (exclusive); omitted: from the first. */
  after?: number;
  /** At most this many (at least 1). */
  limit: number;
  /** Only outcomes whose step failed (`success: false`). */
  failedOnly?: boolean;
}

/** What one run keeps, as `tao gc` judges it. */
export interface OutcomeRun {
  run: string;
  /** Bytes the run's outcomes take in the store (the file store: its files, superseded puts included). */
  bytes: number;
  /** When its last outcome was put. */
  writtenMs: number;
}

/**
 * Where a run that keeps its items by reference puts each step's outcome, so
 * neither its history nor its result ever holds all of them: the step's
 * activity puts it, readers page through it, and the run's result is only a
 * summary. Backends: `memory`, `file:<dir>` and `postgres://…`, the refs of
 * the checkpoint store (see ./index).
 *
 * Invariants:
 * - `run` is the run's workflow id, which its continued-as-new executions
 *   share, so one run's outcomes are one set however often it continued;
 * - `seq` is the item's place in the run's source, from 0: at most one
 *   outcome per (run, seq) is ever read;
 * - a put is idempotent, and a later put of the same (run, seq) replaces the
 *   earlier for every reader after it resolves (a retried activity puts
 *   again; what the retry found is what the run's result counted);
 * - a put that resolved is durable: the activity may complete on it;
 * - nothing holds all of a run's outcomes in memory (each backend says what
 *   it holds per run).
 */
export interface OutcomeStore {
  put(run: string, seq: number, outcome: StepOutcome): Promise<void>;
  /** Ascending `seq`, strictly after `page.after`, at most `page.limit`; none when the run has none. */
  list(run: string, page: OutcomePage): Promise<SeqOutcome[]>;
  /** Every run that has outcomes here, for `tao gc`. */
  runs(): Promise<OutcomeRun[]>;
  /**
   * Removes every outcome of `run`, unless one was put at or after `writtenBeforeMs` (default: whenever);
   * whether it removed any. For `tao gc`: a run that starts again under the id while gc runs keeps what it
   * put (on PostgreSQL the check and the removal are one statement; in a folder a put between them can be lost).
   */
  delete(run: string, writtenBeforeMs?: number): Promise<boolean>;
  /** Releases connections; the store is unusable after. */
  close?(): Promise<void>;
  /** Where the outcomes are, for messages (never with credentials). */
  readonly location: string;
}

/** Non-retryable: a run id, place or outcome that is wrong now is wrong on every retry. */
export const OUTCOME_ERROR_TYPE = 'TaoOutcomeRejected';

/**
 * What every backend's put checks before it writes: `run` a non-empty id,
 * `seq` a whole number from 0, `outcome` a StepOutcome (returned parsed).
 * Each failure is for good: the same put fails the same way on a retry.
 */
export function checkedPut(run: string, seq: number, outcome: StepOutcome): StepOutcome {
  if (run.length === 0) {
    throw ApplicationFailure.nonRetryable('an outcome needs the run id it belongs to', OUTCOME_ERROR_TYPE);
  }
  if (!Number.isSafeInteger(seq) || seq < 0) {
    throw ApplicationFailure.nonRetryable(
      `outcome place ${seq} of run ${run} is not a whole number from 0; give the item's place in the run's source`,
      OUTCOME_ERROR_TYPE,
    );
  }
  const parsed = StepOutcomeSchema.safeParse(outcome);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(
      `outcome ${seq} of run ${run} is not a step outcome (${describeZodError(parsed.error)}); put what the step returned`,
      OUTCOME_ERROR_TYPE,
    );
  }
  return parsed.data;
}

/** `page` with `after` as a number (-1: before the first) and `limit` checked. */
export function pageBounds(page: OutcomePage): { after: number; limit: number; failedOnly: boolean } {
  if (!Number.isSafeInteger(page.limit) || page.limit < 1) {
    throw new RangeError(`outcome page limit ${page.limit} is not a whole number from 1`);
  }
  return { after: page.after ?? -1, limit: page.limit, failedOnly: page.failedOnly === true };
}
