/**
 * The step cache across runs (contracts' `cache`): successful outcomes kept
 * in the checkpoint store under a key the worker computes (see
 * src/activities/step-cache.ts), so every worker of a fleet on one store
 * shares them. An entry past its `expiresMs` is never served; `tao cache`
 * lists and removes entries.
 */
import { z } from 'zod';
import { StepOutcomeSchema } from '../contracts';

export const CacheEntrySchema = z.object({
  key: z.string().min(1),
  taskId: z.string(),
  agent: z.string(),
  /** The run whose step produced the outcome. */
  workflowId: z.string(),
  savedMs: z.number(),
  /** Absent: the entry never expires. */
  expiresMs: z.number().optional(),
  outcome: StepOutcomeSchema,
});
export type CacheEntry = z.infer<typeof CacheEntrySchema>;

/** An entry as `tao cache list` shows it: all but the outcome. */
export type CacheEntrySummary = Omit<CacheEntry, 'outcome'> & { unreadable?: string };

export function cacheSummary({ outcome: _outcome, ...rest }: CacheEntry): CacheEntrySummary {
  return rest;
}

/** Whether `entry` may still be served at `nowMs`. */
export function isFresh(entry: Pick<CacheEntry, 'expiresMs'>, nowMs: number): boolean {
  return entry.expiresMs === undefined || nowMs < entry.expiresMs;
}

export const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** The cache half of the checkpoint store. */
export interface StepCacheStore {
  /** The entry under `key` while fresh at `nowMs`, else `undefined`. */
  getCached(key: string, nowMs: number): Promise<CacheEntry | undefined>;
  /** Replaces any entry under the same key. */
  putCached(entry: CacheEntry): Promise<void>;
  listCached(): Promise<CacheEntrySummary[]>;
  /** Whether there was one to delete. */
  deleteCached(key: string): Promise<boolean>;
  /** How many entries were deleted. */
  clearCached(): Promise<number>;
}
