/**
 * The PostgreSQL store's transcripts: a row per event in
 * `tao_transcript_events`, numbered under the lock of the step's row in
 * `tao_transcripts` (which keeps its last `seq`, its bytes and when it last
 * grew), so writers on any host get distinct, gapless numbers in the order
 * their appends committed.
 */
import type { PoolClient, QueryResult } from 'pg';
import {
  type StepEvent,
  type Transcript,
  type TranscriptKey,
  type TranscriptStore,
  type TranscriptSummary,
  type UnnumberedEvent,
  checkTranscriptKey,
  keepWithinStepLimit,
  parseStoredEvent,
} from '../transcripts/events';

export class PostgresTranscripts implements TranscriptStore {
  constructor(
    private readonly query: <R extends object>(sql: string, params: unknown[]) => Promise<QueryResult<R>>,
    private readonly transaction: <T>(work: (client: PoolClient) => Promise<T>) => Promise<T>,
  ) {}

  async appendTranscript(key: TranscriptKey, events: readonly UnnumberedEvent[]): Promise<number> {
    const { workflowId, taskId } = checkTranscriptKey(key);
    return this.transaction(async (client) => {
      await client.query(
        `INSERT INTO tao_transcripts (workflow_id, task_id, last_seq, bytes, updated_ms)
         VALUES ($1, $2, 0, 0, $3) ON CONFLICT DO NOTHING`,
        [workflowId, taskId, Date.now()],
      );
      const { rows } = await client.query<{ last_seq: number; bytes: string }>(
        'SELECT last_seq, bytes FROM tao_transcripts WHERE workflow_id = $1 AND task_id = $2 FOR UPDATE',
        [workflowId, taskId],
      );
      const held = rows[0]!;
      const { kept, bytes, dropped } = keepWithinStepLimit(Number(held.bytes), events);
      await client.query(
        `INSERT INTO tao_transcript_events (workflow_id, task_id, seq, event)
         SELECT $1, $2, $3::integer + e.ordinality, e.event
         FROM unnest($4::text[]) WITH ORDINALITY AS e(event, ordinality)`,
        [workflowId, taskId, held.last_seq, kept.map(({ json }) => json)],
      );
      await client.query(
        `UPDATE tao_transcripts SET last_seq = $3, bytes = $4, updated_ms = $5
         WHERE workflow_id = $1 AND task_id = $2`,
        [workflowId, taskId, held.last_seq + kept.length, bytes, Date.now()],
      );
      return dropped;
    });
  }

  async readTranscript(key: TranscriptKey, afterSeq = 0): Promise<Transcript | undefined> {
    const { workflowId, taskId } = checkTranscriptKey(key);
    const { rows } = await this.query<{ last_seq: number; events: { seq: number; event: string }[] | null }>(
      `SELECT t.last_seq, (SELECT json_agg(json_build_object('seq', e.seq, 'event', e.event) ORDER BY e.seq)
         FROM tao_transcript_events e
         WHERE e.workflow_id = t.workflow_id AND e.task_id = t.task_id AND e.seq > $3) AS events
       FROM tao_transcripts t WHERE t.workflow_id = $1 AND t.task_id = $2`,
      [workflowId, taskId, afterSeq],
    );
    const row = rows[0];
    if (!row) return undefined;
    const events = (row.events ?? [])
      .map(({ seq, event }) => parseStoredEvent(event, seq))
      .filter((event): event is StepEvent => event !== undefined);
    return { workflowId, taskId, events, lastSeq: row.last_seq };
  }

  async deleteTranscripts(workflowId: string, taskId?: string): Promise<number> {
    const { rowCount } =
      taskId === undefined
        ? await this.query('DELETE FROM tao_transcripts WHERE workflow_id = $1', [workflowId])
        : await this.query('DELETE FROM tao_transcripts WHERE workflow_id = $1 AND task_id = $2', [
            workflowId,
            taskId,
          ]);
    return rowCount ?? 0;
  }

  async listTranscripts(): Promise<TranscriptSummary[]> {
    const { rows } = await this.query<{
      workflow_id: string;
      task_id: string;
      updated_ms: string;
      bytes: string;
    }>('SELECT workflow_id, task_id, updated_ms, bytes FROM tao_transcripts', []);
    return rows.map((row) => ({
      workflowId: row.workflow_id,
      taskId: row.task_id,
      lastEventMs: Number(row.updated_ms),
      bytes: Number(row.bytes),
    }));
  }
}
