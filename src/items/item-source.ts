import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { BlobStore } from '../blobs';
import {
  AgentStepSpecSchema,
  type ItemCursor,
  ItemCursorSchema,
  ItemSourceSchema,
  describeZodError,
} from '../contracts';

/**
 * Where a run that keeps its items by reference reads them (issue #33): a
 * JSONL file on a path every worker sees, or a manifest in the blob store
 * that `uploadItems` (./blob) wrote. Either is read a page at a time by an
 * activity, so no workflow and no worker ever holds the whole list.
 *
 * Invariant: a source never changes while a run reads it, so an item's
 * `seq` (its place among the source's items, from 0, blank lines not
 * counted) names the same item on every read and in every retry. A blob
 * source is content-addressed and cannot change; a file must be left alone
 * until its run has ended.
 */
export { type ItemCursor, ItemCursorSchema, type ItemSource, ItemSourceSchema } from '../contracts';

export interface ItemsPage {
  items: Array<{ seq: number; item: unknown }>;
  /** Where the next page starts; `null` when the source has no more items (a full page may be followed by an empty one). */
  next: ItemCursor | null;
}

/**
 * A share of a source for one child run of a split run: `count` items from
 * `from` (`null`: the first). The parent holds these, never the items.
 */
export const ItemRangeSchema = z
  .object({ from: ItemCursorSchema.nullable(), count: z.number().int().min(1) })
  .strict();
export type ItemRange = z.infer<typeof ItemRangeSchema>;

/** How items are checked as they are read: each kind of run knows what its items must be. */
export const ITEM_SCHEMAS = {
  /** A parallel run's: each item one step. */
  specs: AgentStepSpecSchema,
  /** A pipeline's: any JSON value, which its stage templates render. */
  items: z.unknown(),
} as const;
export type ItemKind = keyof typeof ITEM_SCHEMAS;

/** What a workflow asks of the `readItems` activity: a page of its source, checked as items of its kind. */
export const ReadItemsRequestSchema = z
  .object({
    source: ItemSourceSchema,
    cursor: ItemCursorSchema.nullable(),
    limit: z.number().int().min(1),
    kind: z.enum(Object.keys(ITEM_SCHEMAS) as [ItemKind]),
  })
  .strict();
export type ReadItemsRequest = z.infer<typeof ReadItemsRequestSchema>;

export interface ItemDeps {
  /** Where blob sources are; a worker without one cannot read them. */
  blobs?: BlobStore;
  /** What each item must be; its parsed output is what the page holds. */
  schema: z.ZodTypeAny;
}

/** Non-retryable: a source that is malformed or missing now will be so on every retry. */
export const ITEMS_ERROR_TYPE = 'TaoItemsUnreadable';

export const itemsFailure = (message: string): ApplicationFailure =>
  ApplicationFailure.nonRetryable(message, ITEMS_ERROR_TYPE);

/**
 * `text` (one line of a source) parsed and checked against `schema`; a
 * failure names `where` the line is and the fix.
 */
export function parseItem(text: string, schema: z.ZodTypeAny, where: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw itemsFailure(
      `${where}: not JSON (${(error as Error).message}); fix that line: one JSON value per line`,
    );
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw itemsFailure(`${where}: invalid item, ${describeZodError(parsed.error)}; fix that item`);
  }
  return parsed.data;
}

/**
 * A page also ends once its items' text reaches this, whatever the page size
 * (at least one item): a page stays under the payload codec's claim-check
 * threshold (128 KiB) with room for its encoding, so it goes through history
 * inline rather than as a blob the worker writes once more. Pages of 200
 * specs of 2 KB did: the batch bench's worker wrote 1.2× its outcome bytes
 * again as page blobs.
 */
export const PAGE_BYTES = 96 * 1024;

/** A page size as the readers take it: a whole number from 1. */
export function checkPageSize(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw itemsFailure(`items page size ${limit} is not a whole number from 1`);
  }
}
