/**
 * What the file outcome store writes per outcome byte (issue #33's target:
 * device bytes ≤ 3× outcome bytes). Puts `--outcomes` outcomes of about 2 KB,
 * `--concurrency` at a time (steps finishing together), into a fresh store
 * on the folder given, and reads two counters around it: the bytes this
 * process sent to storage (/proc/self/io write_bytes: data, no file-system
 * journal) and the bytes the device under the folder wrote
 * (/sys/block/<dev>/stat: everything, the journal and any other process
 * writing meanwhile included, so run it on a quiet machine).
 *
 * With `--postgres`, the PostgreSQL store too, on a throwaway server: the
 * WAL bytes it wrote (how far the WAL's position moved), which the server's
 * data files repeat at checkpoints.
 *
 * `npx ts-node --transpile-only scripts/bench/outcome-writes.ts [--outcomes 20000] [--concurrency 1,16,128] [--dir /var/tmp] [--postgres]`
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { Client as PgClient } from 'pg';
import type { StepOutcome } from '../../src/contracts';
import { FileOutcomeStore, type OutcomeStore, PostgresOutcomeStore } from '../../src/outcomes';
import { startPostgres } from '../../test/support/postgres';

const processWrites = () => Number(/write_bytes: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))![1]);

/** The whole disk holding `dir` (its partition's parent, when on a partition), from its device number. */
function deviceOf(dir: string): string | undefined {
  const { dev } = statSync(dir);
  const id = `${Math.floor(dev / 256)}:${dev % 256}`;
  const name = readdirSync('/sys/block').find(
    (disk) =>
      readFileSync(`/sys/block/${disk}/dev`, 'utf8').trim() === id ||
      readdirSync(`/sys/block/${disk}`).some((part) => {
        try {
          return readFileSync(`/sys/block/${disk}/${part}/dev`, 'utf8').trim() === id;
        } catch {
          return false;
        }
      }),
  );
  return name;
}

const deviceWrites = (disk: string) =>
  Number(readFileSync(`/sys/block/${disk}/stat`, 'utf8').trim().split(/\s+/)[6]) * 512;

const outcomeOf = (seq: number): StepOutcome => ({
  taskId: `task-${seq}`,
  agent: 'explore',
  sessionId: `session-${seq}`,
  // Random, so PostgreSQL's compression of long text (TOAST) does not shrink it: agent output seldom repeats.
  output: randomBytes(1425).toString('base64'),
  success: true,
});

/** A counter of bytes written, read before and after a measurement. */
type Counter = [name: string, read: () => Promise<number>];

/** Puts the outcomes into `store`, `concurrency` at a time; prints each counter's bytes per outcome byte. */
async function measure(
  label: string,
  store: OutcomeStore,
  outcomes: number,
  concurrency: number,
  counters: Counter[],
) {
  let outcomeBytes = 0;
  const before = await Promise.all(counters.map(([, read]) => read()));
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let seq = next++; seq < outcomes; seq = next++) {
        const outcome = outcomeOf(seq);
        outcomeBytes += Buffer.byteLength(JSON.stringify(outcome));
        await store.put(`run-${concurrency}`, seq, outcome);
      }
    }),
  );
  const ms = Date.now() - started;
  const after = await Promise.all(counters.map(([, read]) => read()));
  const ratios = counters.map(
    ([name], i) => `${name} ${((after[i]! - before[i]!) / outcomeBytes).toFixed(2)}`,
  );
  console.log(
    `${label} concurrency ${String(concurrency).padStart(4)}: ${outcomes} outcomes, ${(outcomeBytes / 1e6).toFixed(1)} MB, ` +
      `${Math.round((outcomes / ms) * 1000)}/s; written per outcome byte: ${ratios.join(', ')}`,
  );
}

async function main(): Promise<void> {
  const options = new Command()
    .option('--outcomes <n>', 'outcomes per measurement', '20000')
    .option('--concurrency <list>', 'puts in flight, one measurement each', '1,16,128')
    .option('--dir <dir>', 'folder to put the store in', '/var/tmp')
    .option('--postgres', 'measure the PostgreSQL store too, on a throwaway server (its WAL bytes)')
    .parse()
    .opts<{ outcomes: string; concurrency: string; dir: string; postgres?: boolean }>();
  const disk = deviceOf(options.dir);
  console.log(`file store under ${options.dir}, device ${disk ?? 'unknown (device figure left out)'}`);
  const fileCounters: Counter[] = [['process', async () => processWrites()]];
  if (disk) fileCounters.push(['device', async () => deviceWrites(disk)]);
  const concurrencies = options.concurrency.split(',').map(Number);
  const outcomes = Number(options.outcomes);
  for (const concurrency of concurrencies) {
    const dir = mkdtempSync(join(options.dir, 'tao-outcome-writes-'));
    try {
      await measure('file', new FileOutcomeStore(dir), outcomes, concurrency, fileCounters);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (!options.postgres) return;
  const pg = await startPostgres();
  const wal = new PgClient({ connectionString: pg.url });
  const store = new PostgresOutcomeStore(pg.url);
  try {
    await wal.connect();
    // The WAL's position, not pg_stat_wal: backends report their WAL statistics only every so often.
    const walBytes = async () =>
      Number(
        (await wal.query<{ b: string }>(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS b`))
          .rows[0]!.b,
      );
    for (const concurrency of concurrencies) {
      await measure('postgres', store, outcomes, concurrency, [['WAL', walBytes]]);
    }
  } finally {
    await Promise.all([wal.end(), store.close()]);
    pg.destroy();
  }
}

void main();
