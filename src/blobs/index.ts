/**
 * The blob-store seam: where the claim-check codec keeps payloads too large
 * for history. `openBlobStore` turns a `--blobs` reference into a store; every
 * worker, client and codec server of a deployment must name the same one.
 */
import type { BlobStore } from './blob-store';
import { FileBlobStore } from './file';
import { PostgresBlobStore } from './postgres';
import { S3BlobStore } from './s3';

export { BLOB_ERROR_TYPE, type BlobEntry, type BlobStore, blobKey } from './blob-store';
export { FileBlobStore } from './file';
export { PostgresBlobStore } from './postgres';
export { S3BlobStore } from './s3';

/** `--blobs` / `TAO_BLOBS`: `s3://bucket/prefix`, `postgres://…` (the checkpoint database), or a directory. */
export function openBlobStore(ref: string, env: NodeJS.ProcessEnv = process.env): BlobStore {
  if (ref.startsWith('s3://')) return S3BlobStore.fromRef(ref, env);
  if (/^postgres(ql)?:\/\//.test(ref)) return new PostgresBlobStore(ref);
  return new FileBlobStore(ref);
}
