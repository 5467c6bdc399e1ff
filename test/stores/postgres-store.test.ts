import { redactUrl } from '../../src/stores/postgres-database';
import { PostgresSessionStore } from '../../src/stores/postgres-store';
import { createStore } from '../../src/stores/registry';
import { startPostgres, type TestPostgres } from '../support/postgres';
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
      // Every refused write was smaller than something already stored.
      expect(results.filter((r) => r === 'saved').length).toBeGreaterThan(0);
      expect(await b.save('race', checkpoint(2))).toBe('stale');
      expect((await b.load('race'))!.steps).toHaveLength(12);
    } finally {
      await Promise.all([a.close(), b.close()]);
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
      expect((failure as Error).message).not.toContain('not-a-real-secret');
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
});
