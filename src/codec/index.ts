import type { DataConverter } from '@temporalio/common';
import { FileBlobStore } from './blob-store';
import { ClaimCheckCodec } from './claim-check';

export { type BlobStore, FileBlobStore } from './blob-store';
export { CLAIM_CHECK_ENCODING, ClaimCheckCodec, DEFAULT_CLAIM_CHECK_THRESHOLD } from './claim-check';

/** The data converter workers and clients share: large payloads go to the blob directory. */
export function taoDataConverter(blobDir: string, thresholdBytes?: number): DataConverter {
  return { payloadCodecs: [new ClaimCheckCodec(new FileBlobStore(blobDir), thresholdBytes)] };
}
