import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';

/** A blob as a listing gives it: enough for `tao gc` to judge its age and say what it frees. */
export interface BlobEntry {
  key: string;
  bytes: number;
  /** When its bytes were last put (a put of bytes already held counts: see {@link BlobStore.put}). */
  writtenMs: number;
}

/**
 * Where payloads too large for Temporal history live. Content-addressed: the
 * key is the SHA-256 of the bytes, so a retried encode of the same payload
 * yields the same key, writes are idempotent, and every read can be verified.
 * Every worker and client of one deployment must reach the same store.
 *
 * One blob may serve many runs (two runs with the same large prompt share
 * it), so no run owns one. Invariant for garbage collection: every put,
 * of new bytes or of bytes already held, sets the blob's written time to
 * now, so a blob a run has just encoded is young, whatever run first wrote
 * it, and `delete` with a cut-off never removes it.
 */
export interface BlobStore {
  /** Stores the bytes (when the key exists, only its written time is renewed) and returns their key. */
  put(bytes: Uint8Array): Promise<string>;
  /** The bytes under `key`, verified against it; a missing or mismatched blob is a non-retryable failure. */
  get(key: string): Promise<Uint8Array>;
  /** Every blob held (names that are not blob keys are not TAO's and are left out). */
  list(): Promise<BlobEntry[]>;
  /**
   * Removes the blob when it was last written before `writtenBeforeMs` (default: whenever); whether it did.
   * The check and the removal are one statement on PostgreSQL; on a directory and S3 a put between them
   * can be lost, which is why `tao gc` only removes blobs far older than any run still being encoded.
   */
  delete(key: string, writtenBeforeMs?: number): Promise<boolean>;
  /** Releases connections; the store is unusable after. */
  close?(): Promise<void>;
  /** Where the blobs are, for messages (never with credentials). */
  readonly location: string;
}

const KEY = /^sha256-[0-9a-f]{64}$/;

/** Whether a stored name is a blob key (a directory or bucket may hold other things). */
export const isBlobKey = (name: string): boolean => KEY.test(name);

/** Non-retryable: a blob that is missing or wrong now will be missing or wrong on every retry. */
export const BLOB_ERROR_TYPE = 'TaoBlobUnavailable';

export function blobKey(bytes: Uint8Array): string {
  return `sha256-${createHash('sha256').update(bytes).digest('hex')}`;
}

export function checkBlobKey(key: string): void {
  if (!isBlobKey(key)) {
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
