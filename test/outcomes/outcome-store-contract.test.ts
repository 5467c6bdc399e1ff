/**
 * One contract for every outcome store, on real backends: memory, a folder
 * and PostgreSQL. A put is idempotent and the last put of a place is what
 * readers get; pages go up by place, strictly after the one given, and can
 * hold failures only; `runs` and `delete` are what `tao gc` needs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { failedOutcome } from '../../src/contracts';
import { type OutcomeStore, createOutcomeStore } from '../../src/outcomes';
import { OUTCOME_ERROR_TYPE } from '../../src/outcomes/outcome-store';
import { type TestPostgres, startPostgres } from '../support/postgres';
import { echoed } from '../support/specs';

let pg: TestPostgres;
const dir = mkdtempSync(join(tmpdir(), 'tao-outcomes-contract-'));
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(() => {
  pg?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

let opened = 0;

/** Each test gets an empty store of its own: a new folder, a new database. */
const backends: Array<{ name: string; ref: () => Promise<string> }> = [
  { name: 'memory', ref: async () => 'memory' },
  { name: 'file', ref: async () => `file:${join(dir, `store-${++opened}`)}` },
  {
    name: 'postgres',
    ref: async () => {
      const name = `outcomes_${++opened}`;
      const admin = new Client({ connectionString: pg.url });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      return pg.url.replace(/\/postgres$/, `/${name}`);
    },
  },
];

describe.each(backends)('the $name outcome store', (backend) => {
  let store: OutcomeStore;
  beforeEach(async () => {
    store = createOutcomeStore(await backend.ref());
  });
  afterEach(() => store.close?.());

  const ok = (seq: number) => echoed(`t${seq}`, `output ${seq}`);
  const failed = (seq: number) => failedOutcome(`t${seq}`, 'explore', `error ${seq}`);

  it('pages through a run in ascending places, strictly after the one given', async () => {
    // Put out of order, as parallel steps finish.
    for (const seq of [5, 0, 3, 1, 4, 2]) await store.put('run-a', seq, ok(seq));
    await store.put('run-b', 0, ok(99));
    const first = await store.list('run-a', { limit: 4 });
    expect(first.map((e) => e.seq)).toEqual([0, 1, 2, 3]);
    expect(first[2]).toEqual({ seq: 2, outcome: ok(2) });
    expect((await store.list('run-a', { after: 3, limit: 4 })).map((e) => e.seq)).toEqual([4, 5]);
    expect(await store.list('run-a', { after: 5, limit: 4 })).toEqual([]);
    expect(await store.list('no-such-run', { limit: 4 })).toEqual([]);
  });

  it('keeps the last put of a place, however often a retry puts it', async () => {
    await store.put('run-a', 0, failed(0));
    await store.put('run-a', 0, failed(0));
    await store.put('run-a', 0, ok(0));
    await store.put('run-a', 1, ok(1));
    expect(await store.list('run-a', { limit: 10 })).toEqual([
      { seq: 0, outcome: ok(0) },
      { seq: 1, outcome: ok(1) },
    ]);
  });

  it('pages through failures only', async () => {
    for (let seq = 0; seq < 10; seq++) await store.put('run-a', seq, seq % 3 === 0 ? failed(seq) : ok(seq));
    // A retry that succeeded is no failure any more.
    await store.put('run-a', 3, ok(3));
    const page = await store.list('run-a', { failedOnly: true, limit: 2 });
    expect(page).toEqual([
      { seq: 0, outcome: failed(0) },
      { seq: 6, outcome: failed(6) },
    ]);
    expect(await store.list('run-a', { failedOnly: true, after: 6, limit: 2 })).toEqual([
      { seq: 9, outcome: failed(9) },
    ]);
  });

  it('lists the runs it holds with their size and age, and deletes one', async () => {
    const before = Date.now();
    await store.put('run-a', 0, ok(0));
    await store.put('run-a', 1, ok(1));
    await store.put('run/b with spaces', 0, ok(2));
    const runs = (await store.runs()).sort((a, b) => (a.run < b.run ? -1 : 1));
    expect(runs.map((r) => r.run)).toEqual(['run-a', 'run/b with spaces']);
    for (const run of runs) {
      // Within a second: the file store gives the file's modification time.
      expect(run.writtenMs).toBeGreaterThanOrEqual(before - 1000);
      expect(run.writtenMs).toBeLessThanOrEqual(Date.now() + 1000);
    }
    expect(runs[0]!.bytes).toBeGreaterThanOrEqual(2 * JSON.stringify(ok(0)).length);
    expect(await store.delete('run-a')).toBe(true);
    expect(await store.delete('run-a')).toBe(false);
    expect(await store.list('run-a', { limit: 10 })).toEqual([]);
    expect((await store.runs()).map((r) => r.run)).toEqual(['run/b with spaces']);
    // Not when it was written since the time given.
    expect(await store.delete('run/b with spaces', before - 60_000)).toBe(false);
    expect(await store.delete('run/b with spaces', Date.now() + 60_000)).toBe(true);
    // A run deleted and written again starts afresh.
    await store.put('run-a', 7, ok(7));
    expect(await store.list('run-a', { limit: 10 })).toEqual([{ seq: 7, outcome: ok(7) }]);
  });

  it('refuses a place that is not a whole number from 0, for good, and an outcome of the wrong shape', async () => {
    for (const seq of [-1, 1.5, Number.NaN]) {
      await expect(store.put('run-a', seq, ok(0))).rejects.toMatchObject({
        type: OUTCOME_ERROR_TYPE,
        nonRetryable: true,
      });
    }
    await expect(store.put('run-a', 0, { taskId: 't' } as never)).rejects.toMatchObject({
      type: OUTCOME_ERROR_TYPE,
      nonRetryable: true,
      message: expect.stringMatching(
        /^outcome 0 of run run-a is not a step outcome \(agent: Required; .*\); put what the step returned$/,
      ),
    });
    expect(await store.list('run-a', { limit: 10 })).toEqual([]);
  });

  it('says where it is, without credentials', () => {
    expect(store.location).not.toContain('not-a-real-secret');
  });
});

it('refuses an unknown ref in the words of the checkpoint store', () => {
  expect(() => createOutcomeStore('redis://x')).toThrow(
    'unknown store "redis://x"; use memory, file:<dir> or postgres://user@host/db',
  );
});
