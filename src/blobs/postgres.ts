import { LazyDatabase } from '../stores/postgres-database';
import {
  type BlobEntry,
  type BlobStore,
  blobKey,
  checkBlobKey,
  missingBlob,
  verifiedBlob,
} from './blob-store';

/**
 * Blobs as rows of `tao_blobs` in the checkpoint database, for fleets that
 * already share PostgreSQL and want no object store. The connection opens on
 * first use, so building a data converter never blocks or fails early.
 */
export class PostgresBlobStore implements BlobStore {
  /** Its queries have the checkpoint store's bound (QUERY_TIMEOUT_MS, or the URL's query_timeout). */
  private readonly database: LazyDatabase;

  constructor(url: string) {
    this.database = new LazyDatabase(url, 'postgres blob store', '--blobs');
  }

  get location(): string {
    return this.database.location;
  }

  async put(bytes: Uint8Array): Promise<string> {
    const key = blobKey(bytes);
    await this.query(
      'INSERT INTO tao_blobs (key, bytes) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET written_at = now()',
      [key, Buffer.from(bytes)],
    );
    return key;
  }

  async get(key: string): Promise<Uint8Array> {
    checkBlobKey(key);
    const { rows } = await this.query<{ bytes: Buffer }>('SELECT bytes FROM tao_blobs WHERE key = $1', [key]);
    if (!rows[0]) throw missingBlob(key, this.location, 'no such row in tao_blobs');
    return verifiedBlob(key, rows[0].bytes, this.location);
  }

  async list(): Promise<BlobEntry[]> {
    const { rows } = await this.query<{ key: string; bytes: number; written_ms: number }>(
      `SELECT key, octet_length(bytes) AS bytes, (extract(epoch FROM written_at) * 1000)::float8 AS written_ms
       FROM tao_blobs ORDER BY key`,
      [],
    );
    return rows.map((row) => ({ key: row.key, bytes: row.bytes, writtenMs: row.written_ms }));
  }

  async delete(key: string, writtenBeforeMs = Infinity): Promise<boolean> {
    checkBlobKey(key);
    // One statement: a put that renews the row first keeps it.
    const { rowCount } = await this.query(
      'DELETE FROM tao_blobs WHERE key = $1 AND ($2::float8 IS NULL OR written_at < to_timestamp($2 / 1000.0))',
      [key, Number.isFinite(writtenBeforeMs) ? writtenBeforeMs : null],
    );
    return (rowCount ?? 0) > 0;
  }

  close(): Promise<void> {
    return this.database.close();
  }

  private query<R extends object = object>(sql: string, params: unknown[]) {
    return this.database.query<R>(sql, params);
  }
}
