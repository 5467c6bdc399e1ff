/**
 * TAO's tables in one PostgreSQL database: checkpoints (the session-store
 * seam) and large payloads (the blob-store seam) share a server, a schema
 * version and one migration path, so a fleet needs one database and one URL.
 */
import { Pool, type PoolClient } from 'pg';

/** Each entry runs once, in order, in one transaction; append only, never edit a shipped one. */
const MIGRATIONS = [
  `CREATE TABLE tao_checkpoints (
     checkpoint_id text PRIMARY KEY,
     -- The journal's sequence: a checkpoint's step count only grows until it is deleted.
     seq integer NOT NULL,
     doc jsonb NOT NULL,
     updated_at timestamptz NOT NULL DEFAULT now()
   )`,
  `CREATE TABLE tao_blobs (
     -- sha256-<hex> of the bytes: content-addressed, so a row is never updated.
     key text PRIMARY KEY,
     bytes bytea NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now()
   )`,
];

/** Any fixed 64-bit number: serializes migrations across workers starting at once. */
const MIGRATION_LOCK = 0x7a0_c4e5;

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for every message a user or log sees. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}

/** One line naming what failed, where (never the password) and the setting to check. */
export function postgresFailure(error: unknown, what: string, setting: string): Error {
  const { code, message } = error as { code?: string; message: string };
  const reason = redactUrl(`${code ?? ''} ${message}`.trim());
  return new Error(`${what} failed (${reason}); check the server is up and ${setting} postgres://… is right`);
}

/** A pool on `url` with TAO's schema migrated; `failure` words a connection or migration error. */
export async function openTaoDatabase(url: string, failure: (error: unknown) => Error): Promise<Pool> {
  const pool = new Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5_000 });
  // An idle client losing its server must not crash the worker; the next query reports it.
  pool.on('error', () => undefined);
  try {
    await transaction(pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await client.query('CREATE TABLE IF NOT EXISTS tao_schema_migrations (version integer PRIMARY KEY)');
      const { rows } = await client.query<{ v: number | null }>(
        'SELECT max(version) AS v FROM tao_schema_migrations',
      );
      for (let version = (rows[0]?.v ?? 0) + 1; version <= MIGRATIONS.length; version++) {
        await client.query(MIGRATIONS[version - 1]!);
        await client.query('INSERT INTO tao_schema_migrations (version) VALUES ($1)', [version]);
      }
    });
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw failure(error);
  }
  return pool;
}

async function transaction(pool: Pool, work: (client: PoolClient) => Promise<void>): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await work(client);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
