import type { Pool } from 'pg';
import { databaseFailure, openTaoDatabase, redactUrl } from '../stores/postgres-database';
import { type BlobStore, blobKey, checkBlobKey, missingBlob, verifiedBlob } from './blob-store';

/**
 * Blobs as rows of `tao_blobs` in the checkpoint database, for fleets that
 * already share PostgreSQL and want no object store. The connection opens on
 * first use, so building a data converter never blocks or fails early.
 */
export class PostgresBlobStore implements BlobStore {
  readonly location: string;
  private pool?: Promise<Pool>;
  /** Its queries have the checkpoint store's bound (QUERY_TIMEOUT_MS, or the URL's query_timeout). */
  private readonly failure: (error: unknown) => Error;

  constructor(private readonly url: string) {
    this.location = redactUrl(url);
    this.failure = databaseFailure(url, 'postgres blob store', '--blobs');
  }

  async put(bytes: Uint8Array): Promise<string> {
    const key = blobKey(bytes);
    await this.query('INSERT INTO tao_blobs (key, bytes) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [
      key,
      Buffer.from(bytes),
    ]);
    return key;
  }

  async get(key: string): Promise<Uint8Array> {
    checkBlobKey(key);
    const { rows } = await this.query<{ bytes: Buffer }>('SELECT bytes FROM tao_blobs WHERE key = $1', [key]);
    if (!rows[0]) throw missingBlob(key, this.location, 'no such row in tao_blobs');
    return verifiedBlob(key, rows[0].bytes, this.location);
  }

  async close(): Promise<void> {
    const pool = await this.pool?.catch(() => undefined);
    this.pool = undefined;
    await pool?.end();
  }

  private async query<R extends object = object>(sql: string, params: unknown[]) {
    const failure = this.failure;
    // A failed connect is not cached: the next payload tries again, as a retried activity would.
    this.pool ??= openTaoDatabase(this.url, failure).catch((error: unknown) => {
      this.pool = undefined;
      throw error;
    });
    const pool = await this.pool;
    try {
      return await pool.query<R>(sql, params);
    } catch (error) {
      throw failure(error);
    }
  }
}
