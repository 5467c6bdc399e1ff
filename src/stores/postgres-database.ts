/**
 * TAO's tables in one PostgreSQL database: checkpoints (the session-store
 * seam) and large payloads (the blob-store seam) share a server, a schema
 * version and one migration path, so a fleet needs one database and one URL.
 */
import type { Pool, PoolClient } from 'pg';

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
  // A row per recorded step, so recording one costs one insert, not a rewrite of the checkpoint;
  // tao_checkpoints keeps the rest of the a3s document. Readable documents move their steps here.
  `CREATE TABLE tao_checkpoint_steps (
     checkpoint_id text NOT NULL REFERENCES tao_checkpoints (checkpoint_id) ON DELETE CASCADE,
     -- 1-based place in the checkpoint's steps: the journal sequence the step was recorded at.
     seq integer NOT NULL,
     task_id text NOT NULL,
     -- One element of the a3s document's steps array, as a3s writes it.
     step jsonb NOT NULL,
     PRIMARY KEY (checkpoint_id, seq)
   );
   CREATE INDEX tao_checkpoint_steps_task ON tao_checkpoint_steps (checkpoint_id, task_id);
   INSERT INTO tao_checkpoint_steps (checkpoint_id, seq, task_id, step)
     SELECT c.checkpoint_id, s.ordinality, coalesce(s.step->>'task_id', ''), s.step
     FROM tao_checkpoints c, jsonb_array_elements(c.doc->'steps') WITH ORDINALITY AS s(step, ordinality)
     WHERE jsonb_typeof(c.doc->'steps') = 'array';
   UPDATE tao_checkpoints SET doc = doc - 'steps' WHERE jsonb_typeof(doc->'steps') = 'array'`,
  // What running agent steps saved for their retries: a row per step, replaced on every save.
  `CREATE TABLE tao_step_states (
     step_key text PRIMARY KEY,
     attempt integer NOT NULL,
     attempt_scheduled_ms bigint NOT NULL,
     seq integer NOT NULL,
     saved_ms bigint NOT NULL,
     -- The executor's state as JSON text: written and read whole, never queried inside, so not parsed to jsonb.
     state text NOT NULL
   )`,
  // The step cache across runs (./step-cache): a row per key, replaced when the step runs again.
  `CREATE TABLE tao_step_cache (
     cache_key text PRIMARY KEY,
     task_id text NOT NULL,
     agent text NOT NULL,
     workflow_id text NOT NULL,
     saved_ms bigint NOT NULL,
     expires_ms bigint,
     -- The StepOutcome as JSON text: written and read whole.
     outcome text NOT NULL
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
  // Loaded here, not at the top: a worker on the file or memory store never needs the driver.
  const { Pool } = await import('pg');
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

/** Runs `work` in one transaction on one client; a throw rolls it back. */
export async function transaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A server lost while the client is out of the pool is reported by the query that fails, not as an event.
  const ignore = () => undefined;
  client.on('error', ignore);
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((lost: Error) => (broken = lost));
    throw error;
  } finally {
    client.off('error', ignore);
    // A client whose connection broke is dropped rather than handed out again.
    client.release(broken);
  }
}
