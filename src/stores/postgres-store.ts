/**
 * A shared checkpoint store on PostgreSQL, so a fleet of workers on many
 * machines resume each other's runs. Checkpoints are kept as JSONB in the a3s
 * format, the same document the file store writes.
 */
import type { Pool } from 'pg';
import type { WorkflowCheckpoint } from '../contracts';
import { decodeA3sCheckpoint, encodeA3sCheckpoint } from './a3s-codec';
import { openTaoDatabase, postgresFailure, redactUrl } from './postgres-database';
import {
  type CheckpointSummary,
  type SaveResult,
  type SessionStore,
  checkCheckpointId,
  summarize,
  unreadableSummary,
} from './session-store';

export class PostgresSessionStore implements SessionStore {
  private constructor(
    private readonly pool: Pool,
    private readonly where: string,
  ) {}

  /** Connects, creating or migrating the schema as needed; a clear one-line error when it cannot. */
  static async connect(url: string): Promise<PostgresSessionStore> {
    const where = redactUrl(url);
    const failure = (error: unknown) =>
      postgresFailure(error, `postgres checkpoint store at ${where}`, '--store');
    return new PostgresSessionStore(await openTaoDatabase(url, failure), where);
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

  private failure(error: unknown): Error {
    return postgresFailure(error, `postgres checkpoint store at ${this.where}`, '--store');
  }
}
