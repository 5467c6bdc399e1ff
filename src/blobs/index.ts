/**
 * The blob-store seam: where the claim-check codec keeps payloads too large
 * for history. `openBlobStore` turns a `--blobs` reference into a store.
 */
import type { BlobStore } from './blob-store';
import { FileBlobStore } from './file';

export { BLOB_ERROR_TYPE, type BlobStore, blobKey } from './blob-store';
export { FileBlobStore } from './file';

/** `--blobs` / `TAO_BLOBS`: a directory. */
export function openBlobStore(ref: string): BlobStore {
  return new FileBlobStore(ref);
}
