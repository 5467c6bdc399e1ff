import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { type BlobStore, blobKey, checkBlobKey, missingBlob, verifiedBlob } from './blob-store';

/**
 * Blobs as objects under `s3://bucket/prefix`, for workers on many hosts.
 * Credentials and region come from the AWS SDK's standard chain (AWS_* env,
 * shared config, instance roles); `AWS_ENDPOINT_URL` (or `_S3`) points it at
 * any S3-compatible server, which then gets path-style addressing, the one
 * they all speak. The AWS SDK is loaded on first use, so a process that
 * never touches S3 does not carry its 20 MiB.
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
    // Content-addressed: an object under the key already holds these bytes.
    if (await this.exists(key)) return key;
    const { sdk, client } = await this.open();
    try {
      await client.send(
        new sdk.PutObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Body: bytes }),
      );
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

  private async exists(key: string): Promise<boolean> {
    const { sdk, client } = await this.open();
    try {
      await client.send(new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return true;
    } catch (error) {
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
        return false;
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
