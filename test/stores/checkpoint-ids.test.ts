/**
 * Ids that try to escape the file store's folder, or that no store could hold
 * faithfully, are made safe or refused, the same way in every store.
 */
import { readdirSync } from 'node:fs';
import { Client } from 'pg';
import { FileSessionStore } from '../../src/stores/file-store';
import { MemorySessionStore } from '../../src/stores/memory-store';
import { PostgresSessionStore } from '../../src/stores/postgres-store';
import type { SessionStore } from '../../src/stores/session-store';
import { echoed } from '../support/specs';
import { startPostgres, type TestPostgres } from '../support/postgres';
import { useTempDir } from '../support/temp-dir';
import { checkpointOf } from './store-contract';

let pg: TestPostgres;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(() => pg?.destroy());
const dir = useTempDir('tao-ids');

const SAFE_BUT_HOSTILE = [
  '../../etc/passwd',
  '/etc/shadow',
  'a/..\\b',
  '..',
  `${'é'.repeat(500)}`,
  'x'.repeat(512),
];
const REFUSED: [string, string, RegExp][] = [
  ['a 10,000-character id', 'x'.repeat(10_000), /^bad checkpoint id: must be at most 512 characters$/],
  ['a NUL byte', 'nul\u0000byte', /^bad checkpoint id: must not contain control characters$/],
  ['a newline', 'new\nline', /^bad checkpoint id: must not contain control characters$/],
  ['the empty id', '', /^bad checkpoint id: must be a non-empty string$/],
];

const stores: [string, () => Promise<{ store: SessionStore; close?: () => Promise<void> }>][] = [
  ['memory', async () => ({ store: new MemorySessionStore() })],
  ['file', async () => ({ store: new FileSessionStore(dir()) })],
  [
    'postgres',
    async () => {
      const name = `ids_${Math.random().toString(36).slice(2)}`;
      const admin = new Client({ connectionString: pg.url });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      const store = await PostgresSessionStore.connect(pg.url.replace(/\/postgres$/, `/${name}`));
      return { store, close: () => store.close() };
    },
  ],
];

describe.each(stores)('%s store', (kind, open) => {
  test('hostile but printable ids round-trip and stay apart', async () => {
    const { store, close } = await open();
    try {
      for (const [i, id] of SAFE_BUT_HOSTILE.entries()) {
        expect(await store.save(id, checkpointOf(id, [echoed(`t${i}`, id)]))).toBe('saved');
      }
      for (const [i, id] of SAFE_BUT_HOSTILE.entries()) {
        expect((await store.load(id))!.steps[0]!.outcome).toEqual(echoed(`t${i}`, id));
      }
      if (kind === 'file') {
        // Nothing escaped: the only entry the store made is its folder, holding one file per id.
        expect(readdirSync(dir())).toEqual(['v1']);
        expect(readdirSync(`${dir()}/v1`)).toEqual(['workflow_checkpoints']);
        expect(readdirSync(`${dir()}/v1/workflow_checkpoints`)).toHaveLength(SAFE_BUT_HOSTILE.length);
      }
    } finally {
      await close?.();
    }
  });

  test.each(REFUSED)('refuses %s with one clear line, touching nothing', async (_label, id, message) => {
    const { store, close } = await open();
    try {
      await expect(store.save(id, checkpointOf('x', [echoed('a', 'a')]))).rejects.toThrow(message);
      await expect(store.load(id)).rejects.toThrow(message);
      await expect(store.delete(id)).rejects.toThrow(message);
      expect(await store.list()).toEqual([]);
    } finally {
      await close?.();
    }
  });
});
