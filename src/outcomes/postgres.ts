import { type StepOutcome, StepOutcomeSchema } from '../contracts';
import { LazyDatabase } from '../stores/postgres-database';
import type { OutcomePage, OutcomeRun, OutcomeStore, SeqOutcome } from './outcome-store';
import { checkedPut, pageBounds } from './outcome-store';

/**
 * Outcomes as rows of `tao_outcomes` in the checkpoint database, keyed
 * (run, seq): a put is one upsert, so a retry's row replaces the first and a
 * run costs a row per item; a page is one keyset query on the key (failures
 * on a partial index of their own), so reading page k never skips over pages
 * 0..k-1 and nothing but a page is ever in memory.
 */
export class PostgresOutcomeStore implements OutcomeStore {
  private readonly database: LazyDatabase;
  readonly location: string;

  constructor(url: string) {
    this.database = new LazyDatabase(url, 'postgres outcome store', '--store');
    this.location = this.database.location;
  }

  async put(run: string, seq: number, outcome: StepOutcome): Promise<void> {
    const parsed = checkedPut(run, seq, outcome);
    await this.database.query(
      `INSERT INTO tao_outcomes (run, seq, success, outcome, written_ms) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (run, seq) DO UPDATE
       SET success = excluded.success, outcome = excluded.outcome, written_ms = excluded.written_ms`,
      [run, seq, parsed.success, JSON.stringify(parsed), Date.now()],
    );
  }

  async list(run: string, page: OutcomePage): Promise<SeqOutcome[]> {
    const { after, limit, failedOnly } = pageBounds(page);
    const { rows } = await this.database.query<{ seq: string; outcome: string }>(
      `SELECT seq, outcome FROM tao_outcomes
       WHERE run = $1 AND seq > $2 ${failedOnly ? 'AND NOT success' : ''}
       ORDER BY seq LIMIT $3`,
      [run, after, limit],
    );
    // bigint comes back as text; places are safe integers (checked on put).
    return rows.map((row) => ({
      seq: Number(row.seq),
      outcome: StepOutcomeSchema.parse(JSON.parse(row.outcome)),
    }));
  }

  async runs(): Promise<OutcomeRun[]> {
    const { rows } = await this.database.query<{ run: string; bytes: string; written_ms: string }>(
      `SELECT run, sum(octet_length(outcome)) AS bytes, max(written_ms) AS written_ms
       FROM tao_outcomes GROUP BY run ORDER BY run`,
      [],
    );
    return rows.map((row) => ({ run: row.run, bytes: Number(row.bytes), writtenMs: Number(row.written_ms) }));
  }

  async delete(run: string, writtenBeforeMs = Infinity): Promise<boolean> {
    // One statement: a put that lands first keeps the run.
    const { rowCount } = await this.database.query(
      `DELETE FROM tao_outcomes WHERE run = $1
       AND NOT EXISTS (SELECT 1 FROM tao_outcomes WHERE run = $1 AND written_ms >= $2)`,
      [run, Number.isFinite(writtenBeforeMs) ? writtenBeforeMs : Number.MAX_SAFE_INTEGER],
    );
    return (rowCount ?? 0) > 0;
  }

  close(): Promise<void> {
    return this.database.close();
  }
}
