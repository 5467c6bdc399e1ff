/**
 * A shared checkpoint store on PostgreSQL, so a fleet of workers on many
 * machines resume each other's runs. Checkpoints are kept as JSONB in the a3s
 * format, the same document the file store writes: each step a row of its own
 * (insert-only, so a run's journal costs what it records), the rest of the
 * document a row in `tao_checkpoints`, whose `seq` (the step count) every
 * write compares and sets under that row's lock.
 */
import type { Pool, PoolClient, QueryResult } from 'pg';
import {
  type CheckpointStep,
  type CheckpointStepKey,
  WORKFLOW_CHECKPOINT_SCHEMA_VERSION,
  type WorkflowCheckpoint,
} from '../contracts';
import { decodeA3sCheckpoint, encodeA3sCheckpoint, encodeA3sSteps } from './a3s-codec';
import { databaseFailure, openTaoDatabase, transaction } from './postgres-database';
import { PostgresTranscripts } from './postgres-transcripts';
import {
  type AppendResult,
  type CheckpointAppend,
  type CheckpointSummary,
  CheckpointUnreadableError,
  type SaveResult,
  type SessionStore,
  type StepStateRecord,
  type StepStateSummary,
  checkCheckpointId,
  checkStepStateKey,
  respecified,
  stepStateSummary,
  stepKey,
  summarize,
  unreadableSummary,
} from './session-store';
import { type CacheEntry, CacheEntrySchema, type CacheEntrySummary, cacheSummary } from './step-cache';

export class PostgresSessionStore implements SessionStore {
  readonly transcripts = new PostgresTranscripts(this.query.bind(this), this.transaction.bind(this));

  private constructor(
    private readonly pool: Pool,
    private readonly failure: (error: unknown) => Error,
  ) {}

  /** Connects, creating or migrating the schema as needed; a clear one-line error when it cannot. */
  static async connect(url: string): Promise<PostgresSessionStore> {
    const failure = databaseFailure(url, 'postgres checkpoint store', '--store');
    return new PostgresSessionStore(await openTaoDatabase(url, failure), failure);
  }

  async load(checkpointId: string): Promise<WorkflowCheckpoint | undefined> {
    const { rows } = await this.query<{ doc: string }>(`${DOCUMENT} WHERE c.checkpoint_id = $1`, [
      checkCheckpointId(checkpointId),
    ]);
    return rows[0] ? decodeA3sCheckpoint(rows[0].doc) : undefined;
  }

  /** From the step rows' ids and digests; the header is decoded as load decodes it, so what load refuses this refuses. */
  async loadIndex(checkpointId: string): Promise<CheckpointStepKey[] | undefined> {
    const { rows } = await this.query<{
      envelope: string;
      unmigrated: boolean;
      keys: { taskId: string; specDigest: string | null }[] | null;
    }>(
      `SELECT (c.doc || '{"steps": []}'::jsonb)::text AS envelope, c.doc ? 'steps' AS unmigrated,
         (SELECT json_agg(json_build_object('taskId', s.task_id, 'specDigest', s.step->>'spec_digest') ORDER BY s.seq)
          FROM tao_checkpoint_steps s WHERE s.checkpoint_id = c.checkpoint_id) AS keys
       FROM tao_checkpoints c WHERE c.checkpoint_id = $1`,
      [checkCheckpointId(checkpointId)],
    );
    const row = rows[0];
    if (!row) return undefined;
    // A document from before the step rows keeps its steps inside: load reads those.
    if (row.unmigrated) return (await this.load(checkpointId))?.steps.map(stepKey);
    decodeA3sCheckpoint(row.envelope);
    return (row.keys ?? []).map(({ taskId, specDigest }) =>
      stepKey({ taskId, specDigest: specDigest ?? undefined }),
    );
  }

  /** Replaces the whole checkpoint, compare-and-set on the sequence, so racing writers on any machine never regress it. */
  async save(checkpointId: string, checkpoint: WorkflowCheckpoint): Promise<SaveResult> {
    checkCheckpointId(checkpointId);
    return this.transaction(async (client) => {
      const held = await lockHeader(client, checkpointId);
      if (held.seq > checkpoint.steps.length) return 'stale';
      await client.query('DELETE FROM tao_checkpoint_steps WHERE checkpoint_id = $1', [checkpointId]);
      await insertSteps(client, checkpointId, 0, checkpoint.steps);
      await client.query(
        `UPDATE tao_checkpoints SET seq = $2, doc = $3::jsonb - 'steps', updated_at = now() WHERE checkpoint_id = $1`,
        [checkpointId, checkpoint.steps.length, envelope(checkpoint)],
      );
      return 'saved';
    });
  }

  /**
   * One transaction under the checkpoint's row lock: the held steps with the
   * incoming task ids are read, new steps inserted as rows, respecified ones
   * replaced, and the sequence raised. Nothing already recorded is rewritten.
   */
  async append(checkpointId: string, { savedCount, steps }: CheckpointAppend): Promise<AppendResult> {
    checkCheckpointId(checkpointId);
    return this.transaction(async (client) => {
      const held = await lockHeader(client, checkpointId, savedCount === 0);
      if (!held.readable) {
        if (savedCount > 0) return 'missing-base';
        // An unreadable checkpoint is replaced, document and steps: the run has just done its work again.
        await client.query('DELETE FROM tao_checkpoint_steps WHERE checkpoint_id = $1', [checkpointId]);
        await client.query(`UPDATE tao_checkpoints SET doc = $2::jsonb - 'steps' WHERE checkpoint_id = $1`, [
          checkpointId,
          envelope(emptyCheckpoint(checkpointId)),
        ]);
        held.seq = 0;
      }
      if (held.seq < savedCount) return 'missing-base';
      const incoming = new Map(steps.map((step) => [step.taskId, step]));
      const { rows } = await client.query<{ task_id: string; seq: number; digest: string | null }>(
        `SELECT task_id, seq, step->>'spec_digest' AS digest FROM tao_checkpoint_steps
         WHERE checkpoint_id = $1 AND task_id = ANY($2::text[])`,
        [checkpointId, [...incoming.keys()]],
      );
      for (const row of rows) {
        const next = incoming.get(row.task_id)!;
        incoming.delete(row.task_id);
        if (!respecified(row.digest ?? undefined, next)) continue;
        await client.query(
          'UPDATE tao_checkpoint_steps SET step = $3::jsonb->0 WHERE checkpoint_id = $1 AND seq = $2',
          [checkpointId, row.seq, encodeA3sSteps([next])],
        );
      }
      const added = [...incoming.values()];
      await insertSteps(client, checkpointId, held.seq, added);
      await client.query(
        `UPDATE tao_checkpoints SET seq = $2, doc = jsonb_set(doc, '{checkpoint_ms}', to_jsonb($3::bigint)), updated_at = now()
         WHERE checkpoint_id = $1`,
        [checkpointId, held.seq + added.length, Date.now()],
      );
      return 'saved';
    });
  }

  async delete(checkpointId: string): Promise<void> {
    await this.query('DELETE FROM tao_checkpoints WHERE checkpoint_id = $1', [
      checkCheckpointId(checkpointId),
    ]);
  }

  async list(): Promise<CheckpointSummary[]> {
    const { rows } = await this.query<{ checkpoint_id: string; doc: string }>(
      `${DOCUMENT} ORDER BY c.checkpoint_id`,
    );
    return rows.map((row) => {
      try {
        return summarize(row.checkpoint_id, decodeA3sCheckpoint(row.doc));
      } catch (error) {
        return unreadableSummary(row.checkpoint_id, error);
      }
    });
  }

  /**
   * One statement: the row is inserted, or replaced unless it is further on
   * (the same order as isOlderStepState); committed, so on disk, before it resolves.
   */
  async saveStepState(key: string, record: StepStateRecord): Promise<SaveResult> {
    const { rowCount } = await this.query(
      `INSERT INTO tao_step_states AS held (step_key, attempt, attempt_scheduled_ms, seq, saved_ms, state)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (step_key) DO UPDATE SET attempt = excluded.attempt,
         attempt_scheduled_ms = excluded.attempt_scheduled_ms, seq = excluded.seq,
         saved_ms = excluded.saved_ms, state = excluded.state
       WHERE (held.attempt_scheduled_ms, held.seq) <= (excluded.attempt_scheduled_ms, excluded.seq)`,
      [
        checkStepStateKey(key),
        record.attempt,
        record.attemptScheduledMs,
        record.seq,
        record.savedMs,
        JSON.stringify(record.state),
      ],
    );
    return rowCount === 1 ? 'saved' : 'stale';
  }

  async loadStepState(key: string): Promise<StepStateRecord | undefined> {
    const { rows } = await this.query<StepStateRow & { state: string }>(
      `SELECT ${STEP_STATE_FIELDS}, state FROM tao_step_states WHERE step_key = $1`,
      [checkStepStateKey(key)],
    );
    const row = rows[0];
    if (!row) return undefined;
    let state: unknown;
    try {
      state = JSON.parse(row.state);
    } catch (error) {
      throw new CheckpointUnreadableError(`step state ${key} is not JSON: ${(error as Error).message}`);
    }
    return {
      attempt: row.attempt,
      attemptScheduledMs: Number(row.attempt_scheduled_ms),
      seq: row.seq,
      savedMs: Number(row.saved_ms),
      state,
    };
  }

  async deleteStepState(key: string): Promise<void> {
    await this.query('DELETE FROM tao_step_states WHERE step_key = $1', [checkStepStateKey(key)]);
  }

  async listStepStates(): Promise<StepStateSummary[]> {
    const { rows } = await this.query<StepStateRow & { step_key: string; bytes: number }>(
      `SELECT step_key, ${STEP_STATE_FIELDS}, octet_length(state) AS bytes FROM tao_step_states ORDER BY step_key COLLATE "C"`,
    );
    return rows.map((row) =>
      stepStateSummary(
        row.step_key,
        { attempt: row.attempt, seq: row.seq, savedMs: Number(row.saved_ms) },
        row.bytes,
      ),
    );
  }

  async getCached(key: string, nowMs: number): Promise<CacheEntry | undefined> {
    const { rows } = await this.query<CacheRow>(
      `SELECT ${CACHE_FIELDS} FROM tao_step_cache WHERE cache_key = $1 AND (expires_ms IS NULL OR expires_ms > $2)`,
      [key, nowMs],
    );
    // An unreadable row is a miss: the step runs and its outcome replaces it.
    return rows[0] && cacheEntry(rows[0]);
  }

  async putCached(entry: CacheEntry): Promise<void> {
    await this.query(
      `INSERT INTO tao_step_cache (${CACHE_FIELDS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (cache_key) DO UPDATE SET task_id = excluded.task_id, agent = excluded.agent,
         workflow_id = excluded.workflow_id, saved_ms = excluded.saved_ms,
         expires_ms = excluded.expires_ms, outcome = excluded.outcome`,
      [
        entry.key,
        entry.taskId,
        entry.agent,
        entry.workflowId,
        entry.savedMs,
        entry.expiresMs ?? null,
        JSON.stringify(entry.outcome),
      ],
    );
  }

  async listCached(): Promise<CacheEntrySummary[]> {
    const { rows } = await this.query<CacheRow>(
      `SELECT ${CACHE_FIELDS} FROM tao_step_cache ORDER BY cache_key COLLATE "C"`,
    );
    return rows.map((row) => {
      const entry = cacheEntry(row);
      return entry
        ? cacheSummary(entry)
        : {
            key: row.cache_key,
            taskId: row.task_id,
            agent: row.agent,
            workflowId: row.workflow_id,
            savedMs: Number(row.saved_ms),
            unreadable: 'its outcome is not a valid step outcome',
          };
    });
  }

  async deleteCached(key: string): Promise<boolean> {
    const { rowCount } = await this.query('DELETE FROM tao_step_cache WHERE cache_key = $1', [key]);
    return (rowCount ?? 0) > 0;
  }

  async clearCached(): Promise<number> {
    const { rowCount } = await this.query('DELETE FROM tao_step_cache');
    return rowCount ?? 0;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    try {
      return await transaction(this.pool, work);
    } catch (error) {
      throw this.failure(error);
    }
  }

  private async query<R extends object = object>(
    sql: string,
    params: unknown[] = [],
  ): Promise<QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, params);
    } catch (error) {
      throw this.failure(error);
    }
  }
}

const STEP_STATE_FIELDS = 'attempt, attempt_scheduled_ms, seq, saved_ms';
/** bigint columns come back as text from pg, so a number past 2^53 is never rounded silently. */
interface StepStateRow {
  attempt: number;
  attempt_scheduled_ms: string;
  seq: number;
  saved_ms: string;
}

const CACHE_FIELDS = 'cache_key, task_id, agent, workflow_id, saved_ms, expires_ms, outcome';
interface CacheRow {
  cache_key: string;
  task_id: string;
  agent: string;
  workflow_id: string;
  saved_ms: string;
  expires_ms: string | null;
  outcome: string;
}

/** The row as an entry, or `undefined` when its outcome does not parse. */
function cacheEntry(row: CacheRow): CacheEntry | undefined {
  let outcome: unknown;
  try {
    outcome = JSON.parse(row.outcome);
  } catch {
    return undefined;
  }
  const parsed = CacheEntrySchema.safeParse({
    key: row.cache_key,
    taskId: row.task_id,
    agent: row.agent,
    workflowId: row.workflow_id,
    savedMs: Number(row.saved_ms),
    ...(row.expires_ms !== null ? { expiresMs: Number(row.expires_ms) } : {}),
    outcome,
  });
  return parsed.success ? parsed.data : undefined;
}

/** The a3s document of each checkpoint: its row with its step rows put back in order (or the steps a row still holds). */
const DOCUMENT = `SELECT c.checkpoint_id, (c.doc || jsonb_build_object('steps', coalesce(
    (SELECT jsonb_agg(s.step ORDER BY s.seq) FROM tao_checkpoint_steps s WHERE s.checkpoint_id = c.checkpoint_id),
    c.doc->'steps', '[]'::jsonb)))::text AS doc
  FROM tao_checkpoints c`;

/**
 * Locks the checkpoint's row for the transaction (creating an empty one when
 * `create`), and says how many steps it holds and whether it can be read: a
 * row written by a newer schema, or one whose steps never decoded, cannot.
 */
async function lockHeader(
  client: PoolClient,
  checkpointId: string,
  create = true,
): Promise<{ seq: number; readable: boolean }> {
  if (create) {
    await client.query(
      `INSERT INTO tao_checkpoints (checkpoint_id, seq, doc) VALUES ($1, 0, $2::jsonb - 'steps') ON CONFLICT DO NOTHING`,
      [checkpointId, envelope(emptyCheckpoint(checkpointId))],
    );
  }
  const { rows } = await client.query<{ seq: number; envelope: string; unmigrated: boolean }>(
    `SELECT seq, (doc || '{"steps": []}'::jsonb)::text AS envelope, doc ? 'steps' AS unmigrated
     FROM tao_checkpoints WHERE checkpoint_id = $1 FOR UPDATE`,
    [checkpointId],
  );
  const row = rows[0];
  if (!row) return { seq: 0, readable: true };
  try {
    decodeA3sCheckpoint(row.envelope);
    return { seq: row.seq, readable: !row.unmigrated };
  } catch {
    return { seq: row.seq, readable: false };
  }
}

/** The a3s document of `checkpoint` as its row keeps it: everything but the steps, which are rows of their own. */
const envelope = (checkpoint: WorkflowCheckpoint) => encodeA3sCheckpoint({ ...checkpoint, steps: [] });

const emptyCheckpoint = (checkpointId: string): WorkflowCheckpoint => ({
  schemaVersion: WORKFLOW_CHECKPOINT_SCHEMA_VERSION,
  workflowId: checkpointId,
  steps: [],
  checkpointMs: Date.now(),
});

/** Inserts `steps` as the rows after the first `after`. */
async function insertSteps(
  client: PoolClient,
  checkpointId: string,
  after: number,
  steps: readonly CheckpointStep[],
): Promise<void> {
  if (steps.length === 0) return;
  await client.query(
    `INSERT INTO tao_checkpoint_steps (checkpoint_id, seq, task_id, step)
     SELECT $1, $2::integer + s.ordinality, s.step->>'task_id', s.step
     FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS s(step, ordinality)`,
    [checkpointId, after, encodeA3sSteps(steps)],
  );
}
