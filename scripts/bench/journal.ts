/**
 * What the checkpoint journal costs: a resumable run of N steps with 4 KB
 * outputs on the file store and on PostgreSQL, against the same work as a
 * parallelWorkflow (which journals nothing). Bytes written per recorded byte:
 * the file store counts what it writes; PostgreSQL's own WAL counter
 * (`pg_stat_wal`) says what the server wrote for it.
 */
import { randomBytes } from 'node:crypto';
import { Client as PgClient } from 'pg';
import type { Client } from '@temporalio/client';
import type { StepOutcome } from '../../src/contracts';
import { FileSessionStore } from '../../src/stores/file-store';
import { PostgresSessionStore } from '../../src/stores/postgres-store';
import type { SessionStore } from '../../src/stores/session-store';
import { startPostgres } from '../../test/support/postgres';

export const OUTPUT_BYTES = 4096;

export interface JournalCost {
  steps: number;
  /** The mean of {@link parallelRunsMs}. */
  parallelMs: number;
  /**
   * The parallel run before the resumable runs and again after them: the
   * server and worker warm up and their state grows over the section, which
   * would otherwise favour whichever side ran later.
   */
  parallelRunsMs: [before: number, after: number];
  file: { ms: number; writtenPerRecorded: number };
  postgres: { ms: number; writtenPerRecorded: number };
}

/** Runs `body` on a worker with `store`; see withWorker in index.ts. */
export type StoreWorker = <T>(store: SessionStore, body: (taskQueue: string) => Promise<T>) => Promise<T>;

/**
 * Each step's output: its task id and 4 KB of random text. The text is the
 * same for every step, which neither store can exploit: the file store does
 * not compress, and PostgreSQL compresses each row's value on its own.
 */
export const journalScript = {
  agents: { bench: { output: `{{taskId}} ${randomBytes((OUTPUT_BYTES * 3) / 4).toString('base64')}` } },
};

export async function journalCost(
  client: Client,
  withStore: StoreWorker,
  fileDir: string,
  steps: number,
): Promise<JournalCost> {
  const specs = Array.from({ length: steps }, (_, i) => ({ taskId: `j${i}`, agent: 'bench', prompt: '' }));
  const run = async (kind: string, store: SessionStore) =>
    withStore(store, async (taskQueue) => {
      const start = performance.now();
      const outcomes = (await client.workflow.execute(kind, {
        taskQueue,
        workflowId: `bench-journal-${kind}-${Date.now()}`,
        args: [
          kind === 'parallelWorkflow'
            ? { specs, concurrency: 100 }
            : { specs, concurrency: 100, checkpointId: `bench-journal-${Date.now()}` },
        ],
      })) as StepOutcome[];
      const ms = performance.now() - start;
      const recorded = outcomes.reduce((sum, outcome) => sum + Buffer.byteLength(outcome.output), 0);
      return { ms, recorded };
    });

  const fileStore = new FileSessionStore(fileDir);
  const parallel = await run('parallelWorkflow', fileStore);
  const file = await run('resumableParallelWorkflow', fileStore);
  const fileWritten = fileStore.bytesWritten;

  const pg = await startPostgres();
  const wal = new PgClient({ connectionString: pg.url });
  try {
    await wal.connect();
    const store = await PostgresSessionStore.connect(pg.url);
    const walBytes = async () =>
      Number((await wal.query<{ b: string }>('SELECT wal_bytes::text AS b FROM pg_stat_wal')).rows[0]!.b);
    const before = await walBytes();
    const postgres = await run('resumableParallelWorkflow', store).finally(() => store.close());
    const pgWritten = (await walBytes()) - before;
    const parallelAgain = await run('parallelWorkflow', fileStore);
    return {
      steps,
      parallelMs: (parallel.ms + parallelAgain.ms) / 2,
      parallelRunsMs: [parallel.ms, parallelAgain.ms],
      file: { ms: file.ms, writtenPerRecorded: fileWritten / file.recorded },
      postgres: { ms: postgres.ms, writtenPerRecorded: pgWritten / postgres.recorded },
    };
  } finally {
    await wal.end();
    pg.destroy();
  }
}
