import type { TaoActivities } from '../activity-api';
import type { BlobStore } from '../blobs';
import { describeZodError } from '../contracts';
import { ITEM_SCHEMAS, ItemSourceSchema, ReadItemsRequestSchema, readItemsPage, splitItems } from '../items';
import { itemsFailure } from '../items/item-source';

/**
 * `readItems`: a page of a run's items (src/items), for workflows that keep
 * them by reference; `splitItems`: their ranges, for a split run's children.
 * `blobs` is the worker's blob store, where uploaded sources are.
 */
export function createItemActivities(
  blobs: BlobStore | undefined,
): Pick<TaoActivities, 'readItems' | 'splitItems'> {
  return {
    async splitItems(source, parts) {
      const parsed = ItemSourceSchema.safeParse(source);
      if (!parsed.success)
        throw itemsFailure(`splitItems: invalid source, ${describeZodError(parsed.error)}`);
      return splitItems(parsed.data, parts, blobs ? { blobs } : {});
    },
    async readItems(request) {
      const parsed = ReadItemsRequestSchema.safeParse(request);
      if (!parsed.success)
        throw itemsFailure(`readItems: invalid request, ${describeZodError(parsed.error)}`);
      const { source, cursor, limit, kind } = parsed.data;
      return readItemsPage(source, cursor, limit, {
        schema: ITEM_SCHEMAS[kind],
        ...(blobs ? { blobs } : {}),
      });
    },
  };
}
