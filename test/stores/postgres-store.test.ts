import { Client } from 'pg';
import { encodeA3sCheckpoint } from '../../src/stores/a3s-codec';
import {
  QUERY_TIMEOUT_MS,
  openTaoDatabase,
  queryTimeoutMs,
  redactUrl,
} from '../../src/stores/postgres-database';
import { PostgresSessionStore } from '../../src/stores/postgres-store';
import { createStore } from '../../src/stores/registry';
import { TEST_POSTGRES_PASSWORD, startPostgres, type TestPostgres } from '../support/postgres';
import { echoed } from '../support/specs';

let pg: TestPostgres;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(() => pg?.destroy());

const checkpoint = (count: number) => ({
  schemaVersion: 1,
  workflowId: 'w',
  steps: Array.from({ length: count }, (_, i) => ({ taskId: `t${i}`, outcome: echoed(`t${i}`, `out ${i}`) })),
  checkpointMs: 5,
});

describe('PostgresSessionStore', () => {
  test('schema set-up is idempotent, even when many workers start at once', async () => {
    const stores = await Promise.all(Array.from({ length: 5 }, () => PostgresSessionStore.connect(pg.url)));
    await Promise.all(stores.map((s) => s.close()));
  });

  test('two writers racing on one checkpoint never regress it (compare-and-set on the sequence)', async () => {
    const [a, b] = await Promise.all([
      PostgresSessionStore.connect(pg.url),
      PostgresSessionStore.connect(pg.url),
    ]);
    try {
      // Interleaved sizes, as a delayed retry from one worker racing a newer save from another would be.
      const sizes = [3, 9, 1, 7, 12, 2, 12, 5, 11, 4, 8, 6, 10];
      const results = await Promise.all(sizes.map((n, i) => (i % 2 ? a : b).save('race', checkpoint(n))));
      expect((await a.load('race'))!.steps).toHaveLength(12);
      // Every refused write was smaller than something already stored: a refusal names a larger save,
      // and no write of the largest size (nothing can be stored above it) is ever refused.
      const saved = sizes.filter((_, i) => results[i] === 'saved');
      sizes.forEach((n, i) => {
        expect([i, results[i]]).toEqual([i, expect.stringMatching(/^(saved|stale)$/)]);
        if (results[i] === 'stale') expect(Math.max(...saved)).toBeGreaterThan(n);
      });
      expect(results.filter((_, i) => sizes[i] === 12)).toEqual(['saved', 'saved']);
      expect(await b.save('race', checkpoint(2))).toBe('stale');
      expect((await b.load('race'))!.steps).toHaveLength(12);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('appends insert a row per step and never update one; the checkpoint row holds the rest of the a3s document', async () => {
    let store = await PostgresSessionStore.connect(pg.url);
    const sql = new Client({ connectionString: pg.url });
    await sql.connect();
    try {
      // The server's own counters for the steps table: rows inserted, rows updated.
      const counts = async () => {
        const { rows } = await sql.query<{ ins: string; upd: string }>(
          `SELECT n_tup_ins AS ins, n_tup_upd AS upd FROM pg_stat_user_tables WHERE relname = 'tao_checkpoint_steps'`,
        );
        return { inserted: Number(rows[0]!.ins), updated: Number(rows[0]!.upd) };
      };
      const before = await counts();
      for (let i = 0; i < 20; i++) {
        const step = { taskId: `s${i}`, outcome: echoed(`s${i}`, `out ${i}`) };
        expect(await store.append('rows', { savedCount: i, steps: [step] })).toBe('saved');
      }
      const { rows } = await sql.query<{ seq: number; task_id: string }>(
        `SELECT seq, task_id FROM tao_checkpoint_steps WHERE checkpoint_id = 'rows' ORDER BY seq`,
      );
      expect(rows.map((r) => [r.seq, r.task_id])).toEqual(
        Array.from({ length: 20 }, (_, i) => [i + 1, `s${i}`]),
      );
      const header = await sql.query<{ seq: number; has_steps: boolean }>(
        `SELECT seq, doc ? 'steps' AS has_steps FROM tao_checkpoints WHERE checkpoint_id = 'rows'`,
      );
      expect(header.rows[0]).toEqual({ seq: 20, has_steps: false });
      // A backend reports its counters when it exits (or within 10 s of going idle).
      await store.close();
      let after = await counts();
      for (let wait = 0; wait < 50 && after.inserted < before.inserted + 20; wait++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        after = await counts();
      }
      expect(after).toEqual({ inserted: before.inserted + 20, updated: before.updated });
      store = await PostgresSessionStore.connect(pg.url);
      await store.delete('rows');
      expect(
        (await sql.query(`SELECT 1 FROM tao_checkpoint_steps WHERE checkpoint_id = 'rows'`)).rowCount,
      ).toBe(0);
    } finally {
      await sql.end();
      await store.close();
    }
  });

  test('a database from before step rows migrates: readable documents move their steps to rows, others stay as they were', async () => {
    const admin = new Client({ connectionString: pg.url });
    await admin.connect();
    await admin.query('CREATE DATABASE before_rows');
    await admin.end();
    const url = pg.url.replace(/\/postgres$/, '/before_rows');
    const old = new Client({ connectionString: url });
    await old.connect();
    // The schema as the previous release left it: migrations 1 and 2.
    await old.query(`CREATE TABLE tao_schema_migrations (version integer PRIMARY KEY);
      INSERT INTO tao_schema_migrations VALUES (1), (2);
      CREATE TABLE tao_checkpoints (checkpoint_id text PRIMARY KEY, seq integer NOT NULL, doc jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE tao_blobs (key text PRIMARY KEY, bytes bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now());`);
    await old.query('INSERT INTO tao_checkpoints (checkpoint_id, seq, doc) VALUES ($1, 3, $2), ($3, 0, $4)', [
      'kept',
      encodeA3sCheckpoint(checkpoint(3)),
      'broken',
      '{"workflow_id": "broken", "steps": "not a list"}',
    ]);
    await old.end();
    const store = await PostgresSessionStore.connect(url);
    try {
      expect(await store.load('kept')).toEqual(checkpoint(3));
      await expect(store.load('broken')).rejects.toThrow(/not in the a3s format/);
      expect(await store.append('kept', { savedCount: 3, steps: checkpoint(4).steps.slice(3) })).toBe(
        'saved',
      );
      expect(await store.load('kept')).toEqual({ ...checkpoint(4), checkpointMs: expect.any(Number) });
      // A new run over the unreadable one replaces it.
      expect(await store.append('broken', { savedCount: 1, steps: checkpoint(2).steps })).toBe(
        'missing-base',
      );
      expect(await store.append('broken', { savedCount: 0, steps: checkpoint(2).steps })).toBe('saved');
      expect((await store.load('broken'))!.steps).toHaveLength(2);
      // A checkpoint from a newer schema is replaced whole, its document too, not just its steps.
      const sql = new Client({ connectionString: url });
      await sql.connect();
      await sql.query('INSERT INTO tao_checkpoints (checkpoint_id, seq, doc) VALUES ($1, 0, $2)', [
        'future',
        '{"schema_version": 99, "workflow_id": "future", "checkpoint_ms": 1}',
      ]);
      await sql.end();
      await expect(store.load('future')).rejects.toThrow(/newer/);
      expect(await store.append('future', { savedCount: 0, steps: checkpoint(1).steps })).toBe('saved');
      expect((await store.load('future'))!.steps).toHaveLength(1);
    } finally {
      await store.close();
    }
  });

  test('an outage fails calls with one clear line and no password; service resumes when the server is back', async () => {
    const store = await PostgresSessionStore.connect(pg.url);
    try {
      await store.save('outage', checkpoint(1));
      pg.stop();
      const failure = await store.save('outage', checkpoint(2)).catch((error: Error) => error);
      expect(failure).toBeInstanceOf(Error);
      expect((failure as Error).message).toMatch(
        /^postgres checkpoint store at postgres:\/\/tao:\*\*\*@127\.0\.0\.1/,
      );
      expect((failure as Error).message).not.toContain(TEST_POSTGRES_PASSWORD);
      expect((failure as Error).message).not.toContain('\n');
      pg.start();
      expect(await store.save('outage', checkpoint(2))).toBe('saved');
      expect((await store.load('outage'))!.steps).toHaveLength(2);
    } finally {
      await store.close();
    }
  });

  test('an unreachable server is reported at start with the fix, password redacted', async () => {
    const url = `postgres://tao:hunter2@127.0.0.1:1/postgres`;
    await expect(createStore(url)).rejects.toThrow(
      /postgres checkpoint store at postgres:\/\/tao:\*\*\*@127\.0\.0\.1:1\/postgres failed \(ECONNREFUSED/,
    );
    await expect(createStore(url)).rejects.not.toThrow(/hunter2/);
    expect(redactUrl('postgresql://u:p@h/db')).toBe('postgresql://u:***@h/db');
  });

  test.each([
    [
      'without a password',
      (url: string) => url.replace(`:${TEST_POSTGRES_PASSWORD}@`, '@'),
      /the server asks for a password and the URL has none\); put it in --store postgres:\/\/user:password@host\/db$/,
    ],
    [
      'with a wrong password',
      (url: string) => url.replace(TEST_POSTGRES_PASSWORD, 'wrong-guess'),
      /28P01 password authentication failed for user "tao"\); check the password in --store postgres:\/\/user:password@host\/db$/,
    ],
  ])(
    'a URL %s fails at connect in one line naming the problem and the fix, no password in it',
    async (_, edit, problem) => {
      // The server asks every connection for a password (the test cluster runs scram-sha-256, not trust).
      const previous = process.env.PGPASSWORD;
      delete process.env.PGPASSWORD;
      try {
        const failure = await createStore(edit(pg.url)).catch((error: Error) => error);
        expect(failure).toBeInstanceOf(Error);
        const { message } = failure as Error;
        expect(message).toMatch(
          /^postgres checkpoint store at postgres:\/\/tao(:\*\*\*)?@127\.0\.0\.1:\d+\/postgres failed \(/,
        );
        expect(message).toMatch(problem);
        expect(message).not.toContain('\n');
        expect(message).not.toContain(TEST_POSTGRES_PASSWORD);
        expect(message).not.toContain('wrong-guess');
      } finally {
        if (previous !== undefined) process.env.PGPASSWORD = previous;
      }
    },
  );

  test('query_timeout on the URL sets the bound; anything but whole milliseconds is refused in one line', async () => {
    expect(queryTimeoutMs(pg.url)).toBe(QUERY_TIMEOUT_MS);
    expect(queryTimeoutMs(`${pg.url}?query_timeout=2500`)).toBe(2500);
    // The same bound reaches the server as its statement_timeout.
    const pool = await openTaoDatabase(`${pg.url}?query_timeout=2500`, (error) => error as Error);
    try {
      const { rows } = await pool.query<{ statement_timeout: string }>('SHOW statement_timeout');
      expect(rows).toEqual([{ statement_timeout: '2500ms' }]);
    } finally {
      await pool.end();
    }
    await expect(createStore(`${pg.url}?query_timeout=10s`)).rejects.toThrow(
      /^postgres checkpoint store at postgres:\/\/tao:\*\*\*@127\.0\.0\.1:\d+\/postgres\?query_timeout=10s failed \(query_timeout=10s is not a whole number of milliseconds above 0\); give it in --store as milliseconds, e\.g\. \?query_timeout=10000$/,
    );
    await expect(createStore(`${pg.url}?query_timeout=0`)).rejects.not.toThrow(TEST_POSTGRES_PASSWORD);
  });
});
