import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import {
  type BlobEntry,
  type BlobStore,
  blobKey,
  checkBlobKey,
  isBlobKey,
  missingBlob,
  verifiedBlob,
} from './blob-store';

/**
 * Blobs as objects under `s3://bucket/prefix`, for workers on many hosts.
 * Credentials and region come from the AWS SDK's standard chain (AWS_* env,
 * shared config, instance roles); `AWS_ENDPOINT_URL` (or `_S3`) points it at
 * any S3-compatible server, which then gets path-style addressing, the one
 * they all speak. The AWS SDK is loaded on first use, so a process that
 * never touches S3 does not carry its 20 MiB. An object's LastModified is
 * the blob's written time; a put of bytes already held renews it with a
 * server-side copy onto itself rather than a second upload.
 */
export class S3BlobStore implements BlobStore {
  readonly location: string;
  private readonly config: S3ClientConfig;
  private opened?: Promise<{ sdk: typeof import('@aws-sdk/client-s3'); client: S3Client }>;

  private constructor(
    private readonly bucket: string,
    private readonly prefix: string,
    env: NodeJS.ProcessEnv,
  ) {
    this.location = `s3://${bucket}/${prefix}`;
    const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL;
    this.config = endpoint ? { endpoint, forcePathStyle: true } : {};
  }

  /** `s3://bucket` or `s3://bucket/prefix`; anything else is one line naming the form. */
  static fromRef(ref: string, env: NodeJS.ProcessEnv = process.env): S3BlobStore {
    const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(ref);
    if (!match) {
      throw new Error(`invalid --blobs (or TAO_BLOBS) "${ref}": expected s3://<bucket>[/<prefix>]`);
    }
    return new S3BlobStore(match[1]!, (match[2] ?? '').replace(/\/+$/, ''), env);
  }

  async put(bytes: Uint8Array): Promise<string> {
    const key = blobKey(bytes);
    const { sdk, client } = await this.open();
    const Key = this.objectKey(key);
    // Content-addressed: an object under the key already holds these bytes; only its age is renewed.
    const held = (await this.writtenMs(key)) !== undefined;
    try {
      await (held
        ? client.send(
            new sdk.CopyObjectCommand({
              Bucket: this.bucket,
              Key,
              CopySource: `${this.bucket}/${Key.split('/').map(encodeURIComponent).join('/')}`,
              MetadataDirective: 'REPLACE',
            }),
          )
        : client.send(new sdk.PutObjectCommand({ Bucket: this.bucket, Key, Body: bytes })));
    } catch (error) {
      throw this.failure(error);
    }
    return key;
  }

  async get(key: string): Promise<Uint8Array> {
    checkBlobKey(key);
    const { sdk, client } = await this.open();
    let body;
    try {
      ({ Body: body } = await client.send(
        new sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
      ));
    } catch (error) {
      if ((error as Error).name === 'NoSuchKey') throw missingBlob(key, this.location, 'no such object');
      throw this.failure(error);
    }
    return verifiedBlob(key, await body!.transformToByteArray(), this.location);
  }

  async list(): Promise<BlobEntry[]> {
    const { sdk, client } = await this.open();
    const start = this.objectKey('');
    const entries: BlobEntry[] = [];
    let ContinuationToken: string | undefined;
    do {
      let page;
      try {
        page = await client.send(
          new sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: start, ContinuationToken }),
        );
      } catch (error) {
        throw this.failure(error);
      }
      for (const object of page.Contents ?? []) {
        const key = object.Key!.slice(start.length);
        if (isBlobKey(key))
          entries.push({ key, bytes: object.Size ?? 0, writtenMs: object.LastModified?.getTime() ?? 0 });
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return entries;
  }

  async delete(key: string, writtenBeforeMs = Infinity): Promise<boolean> {
    checkBlobKey(key);
    const writtenMs = await this.writtenMs(key);
    if (writtenMs === undefined || writtenMs >= writtenBeforeMs) return false;
    const { sdk, client } = await this.open();
    try {
      await client.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
    } catch (error) {
      throw this.failure(error);
    }
    return true;
  }

  async close(): Promise<void> {
    (await this.opened)?.client.destroy();
  }

  private open() {
    this.opened ??= import('@aws-sdk/client-s3').then((sdk) => ({
      sdk,
      client: new sdk.S3Client(this.config),
    }));
    return this.opened;
  }

  private objectKey(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  /** When the object was last written; `undefined` when there is none. */
  private async writtenMs(key: string): Promise<number | undefined> {
    const { sdk, client } = await this.open();
    try {
      const head = await client.send(
        new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
      );
      return head.LastModified?.getTime() ?? 0;
    } catch (error) {
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
        return undefined;
      throw this.failure(error);
    }
  }

  /** Retryable (a plain Error): an unreachable or refusing server may be back on the next attempt. */
  private failure(error: unknown): Error {
    const { name, message } = error as Error;
    return new Error(
      `S3 blob store ${this.location} failed (${name}: ${message.split('\n')[0]}); check AWS_ENDPOINT_URL, the region and the credentials`,
    );
  }
}
