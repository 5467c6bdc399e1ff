/**
 * The codec seam: what every payload goes through between TAO and Temporal.
 * Workers, clients and the codec server build the same chain from the same
 * settings, so each of them reads what the others wrote.
 */
import type { DataConverter, PayloadCodec } from '@temporalio/common';
import { type BlobStore, openBlobStore } from '../blobs';
import { ClaimCheckCodec } from './claim-check';

export { CLAIM_CHECK_ENCODING, ClaimCheckCodec, DEFAULT_CLAIM_CHECK_THRESHOLD } from './claim-check';

export interface PayloadSettings {
  /** Where payloads too large for history go: a `--blobs` reference, or a store. */
  blobs: string | BlobStore;
  /** Payloads above this many bytes (after encryption) are offloaded; default 128 KiB. */
  claimCheckThresholdBytes?: number;
}

/** The codec chain, in encode order: Temporal encodes through it first to last and decodes last to first. */
export function taoPayloadCodecs(settings: PayloadSettings): PayloadCodec[] {
  const blobs = typeof settings.blobs === 'string' ? openBlobStore(settings.blobs) : settings.blobs;
  return [new ClaimCheckCodec(blobs, settings.claimCheckThresholdBytes)];
}

/** The data converter workers and clients share. */
export function taoDataConverter(settings: PayloadSettings): DataConverter {
  return { payloadCodecs: taoPayloadCodecs(settings) };
}
