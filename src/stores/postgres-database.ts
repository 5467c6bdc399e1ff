/**
 * TAO's tables in one PostgreSQL database: checkpoints (the session-store
 * seam), large payloads (the blob-store seam) and outcomes kept by reference
 * (the outcome-store seam) share a server, a schema
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
  // Step transcripts (src/transcripts/events.ts): a row per step, numbering its events under its lock.
  `CREATE TABLE tao_transcripts (
     workflow_id text NOT NULL,
     task_id text NOT NULL,
     last_seq integer NOT NULL,
     bytes bigint NOT NULL,
     updated_ms bigint NOT NULL,
     PRIMARY KEY (workflow_id, task_id)
   );
   CREATE INDEX tao_transcripts_updated ON tao_transcripts (updated_ms);
   CREATE TABLE tao_transcript_events (
     workflow_id text NOT NULL,
     task_id text NOT NULL,
     seq integer NOT NULL,
     -- The event as JSON text: written and read whole.
     event text NOT NULL,
     PRIMARY KEY (workflow_id, task_id, seq),
     FOREIGN KEY (workflow_id, task_id) REFERENCES tao_transcripts ON DELETE CASCADE
   )`,
  // A put of bytes already held renews the row's written time, so `tao gc` never removes a blob a run
  // has just encoded (src/blobs/blob-store.ts); a rename, so no row is rewritten.
  `ALTER TABLE tao_blobs RENAME COLUMN created_at TO written_at`,
  // Each step's outcome of a run that keeps them by reference (src/outcomes): a row per item, upserted.
  `CREATE TABLE tao_outcomes (
     -- The run's workflow id, which its continued-as-new executions share.
     run text NOT NULL,
     -- The item's place in the run's source, from 0.
     seq bigint NOT NULL,
     success boolean NOT NULL,
     -- The StepOutcome as JSON text: written and read whole.
     outcome text NOT NULL,
     written_ms bigint NOT NULL,
     PRIMARY KEY (run, seq)
   );
   CREATE INDEX tao_outcomes_failed ON tao_outcomes (run, seq) WHERE NOT success`,
];

/** Any fixed 64-bit number: serializes migrations across workers starting at once. */
const MIGRATION_LOCK = 0x7a0_c4e5;

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for every message a user or log sees. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}

/**
 * How long TAO waits on PostgreSQL before a store call fails: for a connection
 * (and a free one in the pool), and for each query's answer. 10 s by default,
 * `?query_timeout=<ms>` on the URL to change it.
 *
 * The bound is kept on the client: a server that hangs (a stopped host, a
 * network that drops packets) never answers at the TCP level, so a server-side
 * `statement_timeout` alone never fires. The same value is also sent as
 * `statement_timeout`, so the server stops work (and frees the row locks) of a
 * query the client gave up on.
 *
 * Why 10 s: a store query touches one checkpoint's or one step's rows (a step
 * state's save, committed with fsync on: p99 11 ms in BENCHMARKS.md), so a
 * server that takes 10 s is not answering, not busy; and it is a third of the store activities' 30 s
 * start-to-close timeout (src/workflows/lib/resumable.ts), so a call that
 * hangs fails with this error, naming the database, and the attempt's client is
 * dropped, before Temporal times the attempt out and retries it. A step saving
 * its state for its retries waits at most this long, never for the server.
 */
export const QUERY_TIMEOUT_MS = 10_000;

/**
 * Migrations may rewrite every checkpoint once, and workers starting together
 * wait for the first one's: they get 10 minutes, not the query bound.
 */
const MIGRATION_TIMEOUT_MS = 10 * 60_000;

class BadQueryTimeout extends Error {}

/** The URL's `query_timeout` in milliseconds, or the default; a clear error for anything but a positive whole number. */
export function queryTimeoutMs(url: string): number {
  const raw = /[?&]query_timeout=([^&#]*)/.exec(url)?.[1];
  if (raw === undefined) return QUERY_TIMEOUT_MS;
  const ms = /^\d+$/.test(raw) ? Number(raw) : NaN;
  // pg reads the parameter from the URL too, and would take a malformed one as 1 ms.
  if (!(ms > 0)) {
    throw new BadQueryTimeout(`query_timeout=${raw} is not a whole number of milliseconds above 0`);
  }
  return ms;
}

/** pg's words for a wait it gave up on: a query's answer, a connection, a free client in the pool. */
const TIMEOUTS =
  /^(Query read timeout|timeout expired|timeout exceeded when trying to connect|Connection terminated due to connection timeout)$/;

/** Whether `error` is pg giving up on the server, rather than the server answering with an error. */
export function isTimeout(error: unknown): boolean {
  return TIMEOUTS.test((error as { message?: string })?.message ?? '');
}

/**
 * One line naming what failed, where (never the password) and what to check.
 * `timeoutMs` is the bound a timeout waited for, so the line says how long that was.
 */
export function postgresFailure(
  error: unknown,
  what: string,
  setting: string,
  timeoutMs = QUERY_TIMEOUT_MS,
): Error {
  const { code, message } = error as { code?: string; message: string };
  const url = `${setting} postgres://user:password@host/db`;
  let reason = redactUrl(`${code ?? ''} ${message}`.trim());
  let fix = `check the server is up and ${setting} postgres://… is right`;
  if (error instanceof BadQueryTimeout) {
    fix = `give it in ${setting} as milliseconds, e.g. ?query_timeout=${QUERY_TIMEOUT_MS}`;
  } else if (isTimeout(error)) {
    reason = `no answer from the server within ${timeoutMs} ms: ${message}`;
    fix = `check the server is up and answering, or raise ?query_timeout=<ms> on ${setting}`;
  } else if (code === '28P01') {
    fix = `check the password in ${url}`;
  } else if (/client password must be a string/.test(message)) {
    // pg's own words (a SCRAM message) do not say the password is missing from the URL.
    reason = 'the server asks for a password and the URL has none';
    fix = `put it in ${url}`;
  }
  return new Error(`${what} failed (${reason}); ${fix}`);
}

/** The failure wording of one store on `url`: its name and location, its setting, its timeout. */
export function databaseFailure(url: string, what: string, setting: string): (error: unknown) => Error {
  const where = `${what} at ${redactUrl(url)}`;
  let timeoutMs = QUERY_TIMEOUT_MS;
  try {
    timeoutMs = queryTimeoutMs(url);
  } catch {
    // openTaoDatabase reports a malformed query_timeout through this same wording.
  }
  return (error) => postgresFailure(error, where, setting, timeoutMs);
}

/** A pool on `url` with TAO's schema migrated; `failure` words a connection or migration error. */
export async function openTaoDatabase(url: string, failure: (error: unknown) => Error): Promise<Pool> {
  let timeoutMs: number;
  try {
    timeoutMs = queryTimeoutMs(url);
  } catch (error) {
    throw failure(error);
  }
  // Loaded here, not at the top: a worker on the file or memory store never needs the driver.
  const { Pool } = await import('pg');
  const pool = new Pool({
    connectionString: url,
    max: 4,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    statement_timeout: timeoutMs,
  });
  // An idle client losing its server must not crash the worker; the next query reports it.
  pool.on('error', () => undefined);
  const migration = (text: string, values?: unknown[]) =>
    ({ text, values, query_timeout: MIGRATION_TIMEOUT_MS }) as const;
  try {
    await transaction(pool, async (client) => {
      await client.query(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`);
      await client.query(migration('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]));
      await client.query(
        migration('CREATE TABLE IF NOT EXISTS tao_schema_migrations (version integer PRIMARY KEY)'),
      );
      const { rows } = await client.query<{ v: number | null }>(
        migration('SELECT max(version) AS v FROM tao_schema_migrations'),
      );
      for (let version = (rows[0]?.v ?? 0) + 1; version <= MIGRATIONS.length; version++) {
        await client.query(migration(MIGRATIONS[version - 1]!));
        await client.query(migration('INSERT INTO tao_schema_migrations (version) VALUES ($1)', [version]));
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
    // A query that timed out is still the connection's: a ROLLBACK would wait behind it for another
    // timeout. Dropping the connection rolls the transaction back on the server.
    if (isTimeout(error)) broken = error as Error;
    else await client.query('ROLLBACK').catch((lost: Error) => (broken = lost));
    throw error;
  } finally {
    client.off('error', ignore);
    // A client whose connection broke is dropped rather than handed out again.
    client.release(broken);
  }
}

/**
 * TAO's database opened on the first query, for stores a worker or client
 * builds whether or not it ever uses them (the blob store inside a data
 * converter, the outcome store), so building one never blocks or fails early.
 * A failed connect is not kept: the next query tries again, as a retried
 * activity would.
 */
export class LazyDatabase {
  /** The URL without its password, for messages. */
  readonly location: string;
  /** Words every failure, connecting or querying, as the store `what` set with `setting`: see {@link databaseFailure}. */
  private readonly failure: (error: unknown) => Error;
  private pool?: Promise<Pool>;

  constructor(
    private readonly url: string,
    what: string,
    setting: string,
  ) {
    this.location = redactUrl(url);
    this.failure = databaseFailure(url, what, setting);
  }

  async query<R extends object = object>(sql: string, params: unknown[]) {
    this.pool ??= openTaoDatabase(this.url, this.failure).catch((error: unknown) => {
      this.pool = undefined;
      throw error;
    });
    const pool = await this.pool;
    try {
      return await pool.query<R>(sql, params);
    } catch (error) {
      throw this.failure(error);
    }
  }

  async close(): Promise<void> {
    const pool = await this.pool?.catch(() => undefined);
    this.pool = undefined;
    await pool?.end();
  }
}
