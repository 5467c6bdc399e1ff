/**
 * Client-side encryption of every payload: AES-256-GCM over the whole
 * serialized payload (metadata included, so even the encoding does not leak),
 * a fresh 96-bit IV each time, and the key id in the metadata so that old
 * payloads stay readable while keys rotate. Temporal, its CLI and Web UI see
 * only ciphertext; the codec server decrypts for those who hold the keys.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ApplicationFailure, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { KeyRing } from './keys';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Non-retryable: a payload this worker cannot decrypt stays undecryptable on every retry. */
export const DECRYPT_ERROR_TYPE = 'TaoPayloadDecryptFailed';

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const { Payload: PayloadProto } = temporal.api.common.v1;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly keys: KeyRing) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const { id, key } = this.keys.current;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(ALGORITHM, key, iv);
      const sealed = Buffer.concat([cipher.update(PayloadProto.encode(payload).finish()), cipher.final()]);
      return {
        metadata: { encoding: encoder.encode(ENCRYPTED_ENCODING), 'encryption-key-id': encoder.encode(id) },
        data: Buffer.concat([iv, sealed, cipher.getAuthTag()]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.encoding;
      if (!encoding || decoder.decode(encoding) !== ENCRYPTED_ENCODING) return payload;
      const id = decoder.decode(payload.metadata?.['encryption-key-id'] ?? new Uint8Array());
      const entry = this.keys.byId.get(id);
      if (!entry) {
        throw ApplicationFailure.nonRetryable(
          `payload encrypted with key id "${id}", which is not among the configured keys (${[...this.keys.byId.keys()].join(', ')}); add that key to TAO_ENCRYPTION_KEYS or the key file`,
          DECRYPT_ERROR_TYPE,
        );
      }
      const data = Buffer.from(payload.data ?? new Uint8Array());
      try {
        const decipher = createDecipheriv(ALGORITHM, entry.key, data.subarray(0, IV_BYTES));
        decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
        const plain = Buffer.concat([
          decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
          decipher.final(),
        ]);
        return PayloadProto.decode(plain);
      } catch {
        throw ApplicationFailure.nonRetryable(
          `cannot decrypt a payload with key id "${id}": the key under that id is not the one it was encrypted with, or the payload was altered; check TAO_ENCRYPTION_KEYS or the key file`,
          DECRYPT_ERROR_TYPE,
        );
      }
    });
  }
}
