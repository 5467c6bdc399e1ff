import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';

/**
 * Where payloads too large for Temporal history live. Content-addressed: the
 * key is the SHA-256 of the bytes, so a retried encode of the same payload
 * yields the same key, writes are idempotent, and every read can be verified.
 * Every worker and client of one deployment must reach the same store.
 */
export interface BlobStore {
  /** Stores the bytes (a no-op when the key exists) and returns their key. */
  put(bytes: Uint8Array): Promise<string>;
  /** The bytes under `key`, verified against it; a missing or mismatched blob is a non-retryable failure. */
  get(key: string): Promise<Uint8Array>;
  /** Releases connections; the store is unusable after. */
  close?(): Promise<void>;
  /** Where the blobs are, for messages (never with credentials). */
  readonly location: string;
}

const KEY = /^sha256-[0-9a-f]{64}$/;

/** Non-retryable: a blob that is missing or wrong now will be missing or wrong on every retry. */
export const BLOB_ERROR_TYPE = 'TaoBlobUnavailable';

export function blobKey(bytes: Uint8Array): string {
  return `sha256-${createHash('sha256').update(bytes).digest('hex')}`;
}

export function checkBlobKey(key: string): void {
  if (!KEY.test(key)) {
    throw ApplicationFailure.nonRetryable(
      `bad blob key "${key}": expected sha256-<64 hex digits>`,
      BLOB_ERROR_TYPE,
    );
  }
}

/** Returns `bytes` when they hash to `key`; otherwise the blob was altered or truncated in the store. */
export function verifiedBlob(key: string, bytes: Uint8Array, location: string): Uint8Array {
  if (blobKey(bytes) !== key) {
    throw ApplicationFailure.nonRetryable(
      `payload blob ${key} in ${location} does not match its hash (altered or truncated); restore it from a backup or rerun the step that wrote it`,
      BLOB_ERROR_TYPE,
    );
  }
  return bytes;
}

export function missingBlob(key: string, location: string, detail: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `payload blob ${key} not found in ${location} (${detail}); point --blobs (TAO_BLOBS) at the store the workers write to`,
    BLOB_ERROR_TYPE,
  );
}
