/**
 * The outcome-store seam: where runs that keep their items by reference put
 * each step's outcome (./outcome-store). `createOutcomeStore` takes the
 * checkpoint store's refs, and a worker's outcomes live beside its
 * checkpoints: in the same folder or the same database.
 */
import { parseStoreRef } from '../stores/registry';
import { FileOutcomeStore } from './file';
import { MemoryOutcomeStore } from './memory';
import type { OutcomeStore } from './outcome-store';
import { PostgresOutcomeStore } from './postgres';

export {
  OUTCOME_ERROR_TYPE,
  type OutcomePage,
  type OutcomeRun,
  type OutcomeStore,
  type SeqOutcome,
} from './outcome-store';
export { FileOutcomeStore } from './file';
export { MemoryOutcomeStore } from './memory';
export { PostgresOutcomeStore } from './postgres';

/**
 * The outcome store of `memory`, `file:<dir>` or `postgres://…`, refused in
 * the words `createStore` uses for anything else. It opens nothing until
 * first used, so a worker that never runs by reference never connects.
 */
export function createOutcomeStore(ref: string): OutcomeStore {
  const parsed = parseStoreRef(ref);
  if (parsed.kind === 'memory') return new MemoryOutcomeStore();
  if (parsed.kind === 'postgres') return new PostgresOutcomeStore(parsed.url);
  return new FileOutcomeStore(parsed.dir);
}
