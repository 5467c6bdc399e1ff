import type { TaoActivities } from '../activity-api';
import type { BlobStore } from '../blobs';
import { describeZodError } from '../contracts';
import { ITEM_SCHEMAS, ReadItemsRequestSchema, readItemsPage } from '../items';
import { itemsFailure } from '../items/item-source';

/**
 * `readItems`: a page of a run's items (src/items), for workflows that keep
 * them by reference. `blobs` is the worker's blob store, where uploaded
 * sources are.
 */
export function createItemActivities(blobs: BlobStore | undefined): Pick<TaoActivities, 'readItems'> {
  return {
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
