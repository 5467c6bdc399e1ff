/**
 * A shared checkpoint store on PostgreSQL, so a fleet of workers on many
 * machines resume each other's runs. Checkpoints are kept as JSONB in the a3s
 * format, the same document the file store writes.
 */
import { Pool, type PoolClient } from 'pg';
import type { WorkflowCheckpoint } from '../contracts';
import { decodeA3sCheckpoint, encodeA3sCheckpoint } from './a3s-codec';
import {
  type CheckpointSummary,
  type SaveResult,
  type SessionStore,
  checkCheckpointId,
  summarize,
  unreadableSummary,
} from './session-store';

/** Each entry runs once, in order, in one transaction; append only, never edit a shipped one. */
const MIGRATIONS = [
  `CREATE TABLE tao_checkpoints (
     checkpoint_id text PRIMARY KEY,
     -- The journal's sequence: a checkpoint's step count only grows until it is deleted.
     seq integer NOT NULL,
     doc jsonb NOT NULL,
     updated_at timestamptz NOT NULL DEFAULT now()
   )`,
];

/** Any fixed 64-bit number: serializes migrations across workers starting at once. */
const MIGRATION_LOCK = 0x7a0_c4e5;

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for every message a user or log sees. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}

export class PostgresSessionStore implements SessionStore {
  private constructor(
    private readonly pool: Pool,
    private readonly where: string,
  ) {}

  /** Connects, creating or migrating the schema as needed; a clear one-line error when it cannot. */
  static async connect(url: string): Promise<PostgresSessionStore> {
    const where = redactUrl(url);
    const pool = new Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5_000 });
    // An idle client losing its server must not crash the worker; the next query reports it.
    pool.on('error', () => undefined);
    const store = new PostgresSessionStore(pool, where);
    try {
      await store.transaction(async (client) => {
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
      throw error;
    }
    return store;
  }

  async load(checkpointId: string): Promise<WorkflowCheckpoint | undefined> {
    const { rows } = await this.query<{ doc: string }>(
      'SELECT doc::text AS doc FROM tao_checkpoints WHERE checkpoint_id = $1',
      [checkCheckpointId(checkpointId)],
    );
    return rows[0] ? decodeA3sCheckpoint(rows[0].doc) : undefined;
  }

  /** Compare-and-set on the sequence in one statement, so racing writers on any machine never regress it. */
  async save(checkpointId: string, checkpoint: WorkflowCheckpoint): Promise<SaveResult> {
    const { rowCount } = await this.query(
      `INSERT INTO tao_checkpoints (checkpoint_id, seq, doc) VALUES ($1, $2, $3::jsonb)
       ON CONFLICT (checkpoint_id) DO UPDATE SET seq = EXCLUDED.seq, doc = EXCLUDED.doc, updated_at = now()
       WHERE tao_checkpoints.seq <= EXCLUDED.seq`,
      [checkCheckpointId(checkpointId), checkpoint.steps.length, encodeA3sCheckpoint(checkpoint)],
    );
    return rowCount === 1 ? 'saved' : 'stale';
  }

  async delete(checkpointId: string): Promise<void> {
    await this.query('DELETE FROM tao_checkpoints WHERE checkpoint_id = $1', [
      checkCheckpointId(checkpointId),
    ]);
  }

  async list(): Promise<CheckpointSummary[]> {
    const { rows } = await this.query<{ checkpoint_id: string; doc: string }>(
      'SELECT checkpoint_id, doc::text AS doc FROM tao_checkpoints ORDER BY checkpoint_id',
    );
    return rows.map((row) => {
      try {
        return summarize(row.checkpoint_id, decodeA3sCheckpoint(row.doc));
      } catch (error) {
        return unreadableSummary(row.checkpoint_id, error);
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async query<R extends object = object>(sql: string, params: unknown[] = []) {
    try {
      return await this.pool.query<R>(sql, params);
    } catch (error) {
      throw this.failure(error);
    }
  }

  private async transaction(work: (client: PoolClient) => Promise<void>): Promise<void> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw this.failure(error);
    }
    try {
      await client.query('BEGIN');
      await work(client);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw this.failure(error);
    } finally {
      client.release();
    }
  }

  /** One line naming the server (never its password) and the fix. */
  private failure(error: unknown): Error {
    const { code, message } = error as { code?: string; message: string };
    const reason = redactUrl(`${code ?? ''} ${message}`.trim());
    return new Error(
      `postgres checkpoint store at ${this.where} failed (${reason}); check the server is up and --store postgres://… is right`,
    );
  }
}
