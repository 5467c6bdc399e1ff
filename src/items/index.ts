/**
 * The item-source seam (./item-source): the items of a run that keeps them
 * by reference, read a page at a time from a JSONL file (./jsonl) or from
 * page blobs behind a manifest (./blob).
 */
import { readBlobPage, splitManifest } from './blob';
import {
  type ItemCursor,
  type ItemDeps,
  type ItemRange,
  type ItemSource,
  type ItemsPage,
  checkPageSize,
  itemsFailure,
} from './item-source';
import { readJsonlPage, splitJsonl } from './jsonl';

export {
  ITEMS_ERROR_TYPE,
  ITEM_SCHEMAS,
  type ItemCursor,
  ItemCursorSchema,
  type ItemDeps,
  type ItemKind,
  type ItemRange,
  ItemRangeSchema,
  type ItemSource,
  ItemSourceSchema,
  type ItemsPage,
  PAGE_BYTES,
  type ReadItemsRequest,
  ReadItemsRequestSchema,
} from './item-source';
export { type ItemManifest, ItemManifestSchema, type UploadOptions, itemPageKeys, uploadItems } from './blob';

/**
 * Up to `limit` items of `source` from `cursor` (`null`: the first), each
 * checked against `deps.schema`, and where the next page starts. A malformed
 * or invalid item, or a source that cannot be read, is a non-retryable
 * failure naming where it is and the fix.
 */
export async function readItemsPage(
  source: ItemSource,
  cursor: ItemCursor | null,
  limit: number,
  deps: ItemDeps,
): Promise<ItemsPage> {
  checkPageSize(limit);
  if ('jsonl' in source) {
    const from = cursor ?? { offset: 0, line: 0, seq: 0 };
    if (!('offset' in from)) throw mismatch(source);
    return readJsonlPage(source.jsonl, from, limit, deps.schema);
  }
  const from = cursor ?? { page: 0, item: 0, seq: 0 };
  if (!('page' in from)) throw mismatch(source);
  return readBlobPage(blobsFor(source.blob, deps), source.blob, from, limit, deps.schema);
}

/**
 * `source` as up to `parts` ranges of about equal size, in order, together
 * every item once: a split run's children each read one (a source with
 * fewer items than `parts` has fewer ranges, an empty one none).
 */
export async function splitItems(
  source: ItemSource,
  parts: number,
  deps: Pick<ItemDeps, 'blobs'>,
): Promise<ItemRange[]> {
  if (!Number.isSafeInteger(parts) || parts < 1) {
    throw itemsFailure(`a source splits into a whole number of parts from 1, not ${parts}`);
  }
  return 'jsonl' in source
    ? splitJsonl(source.jsonl, parts)
    : splitManifest(blobsFor(source.blob, deps), source.blob, parts);
}

function blobsFor(manifest: string, deps: Pick<ItemDeps, 'blobs'>) {
  if (deps.blobs) return deps.blobs;
  throw itemsFailure(
    `items manifest ${manifest} is in a blob store and this worker has none; give the worker --blobs (TAO_BLOBS)`,
  );
}

const mismatch = (source: ItemSource) =>
  itemsFailure(`cursor is not one of ${JSON.stringify(source)}; pass back the cursor its last page gave`);
