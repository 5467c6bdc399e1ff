/**
 * The outcomes of a run that keeps them by reference (src/outcomes), read
 * back in item order: `tao results` and programs of their own. A page at a
 * time, so a run of a million steps streams through in the memory of one.
 */
import type { OutcomeStore, SeqOutcome } from '../outcomes';

export interface ResultsOptions {
  /** Only the steps that failed. */
  failedOnly?: boolean;
  /** Outcomes read from the store at once; default 500. */
  pageSize?: number;
}

/** Every outcome `store` holds for the run with workflow id `run`, ascending by item. */
export async function* results(
  store: OutcomeStore,
  run: string,
  options: ResultsOptions = {},
): AsyncIterable<SeqOutcome> {
  const page = { limit: options.pageSize ?? 500, failedOnly: options.failedOnly === true };
  for (let after: number | undefined; ;) {
    const found = await store.list(run, after === undefined ? page : { ...page, after });
    yield* found;
    if (found.length < page.limit) return;
    after = found[found.length - 1]!.seq;
  }
}
