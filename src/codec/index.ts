/**
 * The codec seam: what every payload goes through between TAO and Temporal.
 * Workers, clients and the codec server build the same chain from the same
 * settings, so each of them reads what the others wrote.
 */
import type { DataConverter, PayloadCodec } from '@temporalio/common';
import { type BlobStore, openBlobStore } from '../blobs';
import { ClaimCheckCodec } from './claim-check';
import { EncryptionCodec } from './encryption';
import type { KeyRing } from './keys';

export {
  CLAIM_CHECK_ENCODING,
  ClaimCheckCodec,
  DEFAULT_CLAIM_CHECK_THRESHOLD,
  claimCheckKey,
} from './claim-check';
export { DECRYPT_ERROR_TYPE, ENCRYPTED_ENCODING, EncryptionCodec } from './encryption';
export { type KeyRing, type KeySettings, generateKeyLine, loadKeyRing } from './keys';

export interface PayloadSettings {
  /** Where payloads too large for history go: a `--blobs` reference, or a store. */
  blobs: string | BlobStore;
  /** Payloads above this many bytes (after encryption) are offloaded; default 128 KiB. */
  claimCheckThresholdBytes?: number;
  /** Encrypt every payload (see ./encryption); every party needs the keys. */
  encryption?: KeyRing;
}

/**
 * The codec chain, in encode order: Temporal encodes through it first to last
 * and decodes last to first. Encryption comes first, so what the claim check
 * offloads is ciphertext and no blob store ever holds a prompt or an output.
 */
export function taoPayloadCodecs(settings: PayloadSettings): PayloadCodec[] {
  const blobs = typeof settings.blobs === 'string' ? openBlobStore(settings.blobs) : settings.blobs;
  const claimCheck = new ClaimCheckCodec(blobs, settings.claimCheckThresholdBytes);
  return settings.encryption ? [new EncryptionCodec(settings.encryption), claimCheck] : [claimCheck];
}

/** The data converter workers and clients share. */
export function taoDataConverter(settings: PayloadSettings): DataConverter {
  return { payloadCodecs: taoPayloadCodecs(settings) };
}
