/**
 * The claim-check payload codec: a payload larger than the threshold is stored
 * in a {@link BlobStore} and history carries only its key. Workers and clients
 * install the same codec, so workflows and users see the real values while
 * Temporal never holds more than a reference (its payload limit is 2 MB, and
 * large outputs would bloat every history that carries them).
 */
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';
import type { BlobStore } from '../blobs';

export const CLAIM_CHECK_ENCODING = 'binary/tao-claim-check';
/** Well under Temporal's 512 KB payload warning, so results that gather many outputs stay small too. */
export const DEFAULT_CLAIM_CHECK_THRESHOLD = 128 * 1024;

const ReferenceSchema = z.object({ key: z.string(), size: z.number().int().nonnegative() });
const { Payload: PayloadProto } = temporal.api.common.v1;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class ClaimCheckCodec implements PayloadCodec {
  constructor(
    private readonly blobs: BlobStore,
    private readonly thresholdBytes = DEFAULT_CLAIM_CHECK_THRESHOLD,
  ) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(
      payloads.map(async (payload) => {
        const bytes = PayloadProto.encode(payload).finish();
        if (bytes.byteLength <= this.thresholdBytes) return payload;
        const key = await this.blobs.put(bytes);
        return {
          metadata: { encoding: encoder.encode(CLAIM_CHECK_ENCODING) },
          data: encoder.encode(JSON.stringify({ key, size: bytes.byteLength })),
        };
      }),
    );
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(
      payloads.map(async (payload) => {
        const key = claimCheckKey(payload);
        return key === undefined ? payload : PayloadProto.decode(await this.blobs.get(key));
      }),
    );
  }
}

/** The blob a claim-check reference names (what `tao gc` marks as in use); `undefined` for any other payload. */
export function claimCheckKey(payload: Payload): string | undefined {
  const encoding = payload.metadata?.encoding;
  if (!encoding || decoder.decode(encoding) !== CLAIM_CHECK_ENCODING) return undefined;
  return ReferenceSchema.parse(JSON.parse(decoder.decode(payload.data ?? new Uint8Array()))).key;
}
