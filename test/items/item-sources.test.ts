/**
 * Item sources (src/items): a JSONL file read a page at a time from the
 * cursor's offset, never from the start; the same items uploaded to a blob
 * store as page blobs behind a manifest (a folder and S3), read a page blob
 * at a time; and a malformed line or an invalid item failing for good, with
 * where it is and the fix.
 */
import { createWriteStream, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BlobStore, openBlobStore } from '../../src/blobs';
import { createItemActivities } from '../../src/activities/items';
import {
  ITEMS_ERROR_TYPE,
  ITEM_SCHEMAS,
  PAGE_BYTES,
  type ItemCursor,
  type ItemRange,
  type ItemSource,
  readItemsPage,
  splitItems,
  uploadItems,
} from '../../src/items';
import { retainedBytes } from '../support/retained-memory';
import { useStoreServers } from '../support/store-servers';

const servers = useStoreServers();
const dir = mkdtempSync(join(tmpdir(), 'tao-items-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Text beyond ASCII (two-, three- and four-byte UTF-8) checks that a line is decoded whole wherever a read starts.
const spec = (seq: number) => ({
  taskId: `task-${seq}`,
  agent: 'explore',
  prompt: `look at file ${seq} — é 😀`,
});
const specs = { schema: ITEM_SCHEMAS.specs };

/** Every item of the source, `limit` at a time, and the number of pages it took. */
async function readAll(source: ItemSource, limit: number, blobs?: BlobStore) {
  const items: Array<{ seq: number; item: unknown }> = [];
  let pages = 0;
  for (let cursor: ItemCursor | null = null; ;) {
    const page = await readItemsPage(source, cursor, limit, { ...specs, ...(blobs ? { blobs } : {}) });
    items.push(...page.items);
    pages++;
    if (!page.next) return { items, pages };
    cursor = page.next;
  }
}

describe('a JSONL file', () => {
  it('pages through 100,000 lines from each cursor, holding no more than a page', async () => {
    const path = join(dir, 'big.jsonl');
    const out = createWriteStream(path);
    for (let seq = 0; seq < 100_000; seq++) {
      // A blank line now and then takes no place.
      if (!out.write(`${JSON.stringify(spec(seq))}\n${seq % 1000 === 0 ? '\n' : ''}`)) {
        await once(out, 'drain');
      }
    }
    out.end();
    await once(out, 'close');
    const baseline = await retainedBytes();
    let peak = 0;
    let count = 0;
    let cursor: ItemCursor | null = null;
    for (let pages = 1; ; pages++) {
      const page = await readItemsPage({ jsonl: path }, cursor, 1000, specs);
      // The page after a full last one may be empty.
      if (page.items.length > 0) {
        expect(page.items[0]).toEqual({ seq: count, item: { ...spec(count), description: '' } });
      }
      count += page.items.length;
      if (pages % 10 === 0) peak = Math.max(peak, (await retainedBytes()) - baseline);
      if (!page.next) break;
      cursor = page.next;
    }
    expect(count).toBe(100_000);
    console.log(
      `100,000 specs paged 1000 at a time: at most ${(peak / 1e6).toFixed(2)} MB held, a page in hand`,
    );
    // A page of 1000 specs as objects is about 0.3 MB; the file is 6 MB.
    expect(peak).toBeLessThan(2e6);
  });

  it('reads a page from its cursor only: what came before is never read again', async () => {
    const path = join(dir, 'cursor.jsonl');
    writeFileSync(path, Array.from({ length: 30 }, (_, seq) => JSON.stringify(spec(seq))).join('\n'));
    const first = await readItemsPage({ jsonl: path }, null, 10, specs);
    const next = first.next as { offset: number };
    // Garble what the first page read: a reader that started over would trip on it.
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(next.offset - 1, 'x'), 0, next.offset - 1, 0);
    const second = await readItemsPage({ jsonl: path }, first.next, 10, specs);
    expect(second.items.map((i) => i.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 10 + i));
    // The last line has no newline, and is read all the same.
    const third = await readItemsPage({ jsonl: path }, second.next, 100, specs);
    expect(third.items.map((i) => i.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 20 + i));
    expect(third.next).toBeNull();
  });

  it('fails for good on a malformed line, naming the file, the line and the fix', async () => {
    const path = join(dir, 'malformed.jsonl');
    writeFileSync(path, `${JSON.stringify(spec(0))}\n\n{"taskId": "t1",\n`);
    const failure = readItemsPage({ jsonl: path }, null, 10, specs);
    await expect(failure).rejects.toMatchObject({ type: ITEMS_ERROR_TYPE, nonRetryable: true });
    await expect(failure).rejects.toThrow(
      new RegExp(`^items file ${path} line 3: not JSON \\(.+\\); fix that line: one JSON value per line$`),
    );
  });

  it('fails for good on an item that is not a step spec, naming its line and what is wrong', async () => {
    const path = join(dir, 'invalid.jsonl');
    writeFileSync(
      path,
      `${JSON.stringify(spec(0))}\n${JSON.stringify({ taskId: 't1', agent: 'explore' })}\n`,
    );
    await expect(readItemsPage({ jsonl: path }, null, 10, specs)).rejects.toMatchObject({
      type: ITEMS_ERROR_TYPE,
      nonRetryable: true,
      message: `items file ${path} line 2: invalid item, prompt: Required; fix that item`,
    });
    // A pipeline's items may be anything.
    expect(
      (await readItemsPage({ jsonl: path }, null, 10, { schema: ITEM_SCHEMAS.items })).items,
    ).toHaveLength(2);
  });

  it('fails for good on a file a worker cannot read', async () => {
    await expect(readItemsPage({ jsonl: join(dir, 'absent.jsonl') }, null, 10, specs)).rejects.toMatchObject({
      nonRetryable: true,
      message: expect.stringMatching(
        /absent\.jsonl cannot be read \(ENOENT\); put it on a path every worker sees$/,
      ),
    });
  });
});

/** The store, counting the blobs it gets. */
function counting(store: BlobStore): { store: BlobStore; gets: () => number } {
  let gets = 0;
  const get = store.get.bind(store);
  store.get = (key) => (gets++, get(key));
  return { store, gets: () => gets };
}

describe.each([
  { name: 'a folder', ref: () => join(dir, 'blobs') },
  { name: 'S3', ref: () => `s3://${servers.s3.bucket}/items` },
])('a manifest in $name', ({ ref }) => {
  const path = join(dir, 'upload.jsonl');
  beforeAll(() => {
    writeFileSync(
      path,
      Array.from({ length: 1050 }, (_, seq) => `${JSON.stringify(spec(seq))}\n${seq === 7 ? '\n' : ''}`).join(
        '',
      ),
    );
  });

  it('holds the items as page blobs, and a page gets only the manifest and its own page blobs', async () => {
    const { store, gets } = counting(openBlobStore(ref()));
    const source = await uploadItems(store, path, { pageItems: 100, schema: ITEM_SCHEMAS.specs });
    const manifest = JSON.parse(Buffer.from(await store.get(source.blob)).toString()) as {
      pages: unknown[];
      items: number;
    };
    expect(manifest).toMatchObject({ items: 1050 });
    expect(manifest.pages).toHaveLength(11);
    for (const limit of [1000, 250, 30]) {
      const { items } = await readAll(source, limit, store);
      expect(items.map((i) => i.seq)).toEqual(Array.from({ length: 1050 }, (_, seq) => seq));
      expect(items[1049]!.item).toEqual({ ...spec(1049), description: '' });
    }
    const before = gets();
    // Items 500..529: the manifest and page 5.
    await readItemsPage(source, { page: 5, item: 0, seq: 500 }, 30, { ...specs, blobs: store });
    expect(gets() - before).toBe(2);
  });

  it('refuses to upload a file with an invalid item, naming its line', async () => {
    const bad = join(dir, 'bad-upload.jsonl');
    writeFileSync(bad, `${JSON.stringify(spec(0))}\n${JSON.stringify({ ...spec(1), agent: '' })}\n`);
    await expect(
      uploadItems(openBlobStore(ref()), bad, { schema: ITEM_SCHEMAS.specs }),
    ).rejects.toMatchObject({
      name: 'InputError',
      message: `${bad} line 2: invalid item, agent: must be a non-empty string; fix that item`,
    });
    await expect(uploadItems(openBlobStore(ref()), join(dir, 'absent.jsonl'))).rejects.toMatchObject({
      name: 'InputError',
      message: `items file ${join(dir, 'absent.jsonl')} cannot be read (ENOENT); check the path`,
    });
  });
});

describe('a split source', () => {
  /** The `count` items of a range, read from its cursor as a child run reads them. */
  async function readRange(source: ItemSource, range: ItemRange, blobs?: BlobStore) {
    const items: Array<{ seq: number; item: unknown }> = [];
    for (let cursor = range.from; items.length < range.count;) {
      const limit = Math.min(100, range.count - items.length);
      const page = await readItemsPage(source, cursor, limit, { ...specs, ...(blobs ? { blobs } : {}) });
      items.push(...page.items);
      if (!page.next) break;
      cursor = page.next;
    }
    return items;
  }

  const lines = (n: number) =>
    // Blank lines first, now and then, and last: none takes a place, and no range starts at one.
    `\n \n${Array.from({ length: n }, (_, seq) => `${JSON.stringify(spec(seq))}\n${seq % 97 === 5 ? '\n\t\n' : ''}`).join('')}\n`;

  it.each([
    { kind: 'a JSONL file', upload: false },
    { kind: 'uploaded pages', upload: true },
  ])(
    '$kind splits into ranges of about equal size that hold every item once, in order',
    async ({ upload }) => {
      const path = join(dir, `split-${upload}.jsonl`);
      writeFileSync(path, lines(2_345));
      const blobs = openBlobStore(join(dir, 'split-blobs'));
      const source: ItemSource = upload
        ? await uploadItems(blobs, path, { pageItems: 100, schema: ITEM_SCHEMAS.specs })
        : { jsonl: path };
      for (const parts of [1, 2, 7, 10]) {
        const ranges = await splitItems(source, parts, { blobs });
        expect(ranges).toHaveLength(parts);
        const seqs: number[] = [];
        for (const range of ranges) {
          expect(Math.abs(range.count - 2_345 / parts)).toBeLessThan(2_345 / parts / 10);
          const items = await readRange(source, range, blobs);
          expect(items).toHaveLength(range.count);
          seqs.push(...items.map(({ seq, item }) => (expect(item).toMatchObject(spec(seq)), seq)));
        }
        expect(seqs).toEqual(Array.from({ length: 2_345 }, (_, seq) => seq));
      }
      // More parts than items: one range an item; no items, no ranges.
      writeFileSync(path, lines(3));
      const few = upload ? await uploadItems(blobs, path, { schema: ITEM_SCHEMAS.specs }) : { jsonl: path };
      expect((await splitItems(few, 5, { blobs })).map((range) => range.count)).toEqual([1, 1, 1]);
      writeFileSync(path, '\n\n');
      const none = upload ? await uploadItems(blobs, path, { schema: ITEM_SCHEMAS.specs }) : { jsonl: path };
      expect(await splitItems(none, 5, { blobs })).toEqual([]);
    },
  );
});

describe('the readItems activity', () => {
  it('reads a page of a file, and refuses a bad request or a blob source without a blob store, for good', async () => {
    const path = join(dir, 'activity.jsonl');
    writeFileSync(path, `${JSON.stringify(spec(0))}\n"an item"\n`);
    const { readItems } = createItemActivities(undefined);
    const page = await readItems({ source: { jsonl: path }, cursor: null, limit: 5, kind: 'items' });
    expect(page).toEqual({
      items: [
        { seq: 0, item: spec(0) },
        { seq: 1, item: 'an item' },
      ],
      next: null,
    });
    await expect(
      readItems({ source: { jsonl: 'relative.jsonl' }, cursor: null, limit: 5, kind: 'specs' }),
    ).rejects.toMatchObject({
      nonRetryable: true,
      message: 'readItems: invalid request, source.jsonl: must be an absolute path every worker sees',
    });
    await expect(
      readItems({ source: { blob: 'sha256-00' }, cursor: null, limit: 5, kind: 'specs' }),
    ).rejects.toMatchObject({
      nonRetryable: true,
      message: expect.stringMatching(/this worker has none; give the worker --blobs \(TAO_BLOBS\)$/),
    });
  });
});

test('a page of large items ends at PAGE_BYTES, under the claim-check threshold, from a file and from uploaded pages', async () => {
  // 2 KB prompts: 200 of them would be a 420 KB page, which the payload codec would write once more as a blob.
  const big = (seq: number) => ({ ...spec(seq), prompt: `${seq} ${'x'.repeat(2_000)}` });
  const path = join(dir, 'big.jsonl');
  writeFileSync(path, Array.from({ length: 300 }, (_, seq) => JSON.stringify(big(seq))).join('\n'));
  const blobs = openBlobStore(join(dir, 'big-blobs'));
  for (const [source, store] of [
    [{ jsonl: path }, undefined],
    [await uploadItems(blobs, path, { pageItems: 1000, schema: ITEM_SCHEMAS.specs }), blobs],
  ] as const) {
    const first = await readItemsPage(source, null, 200, { ...specs, ...(store ? { blobs: store } : {}) });
    const bytes = first.items.reduce((sum, { item }) => sum + JSON.stringify(item).length, 0);
    expect(first.items.length).toBeLessThan(200);
    expect(bytes).toBeGreaterThanOrEqual(PAGE_BYTES);
    expect(bytes).toBeLessThan(PAGE_BYTES + 2_100);
    const { items } = await readAll(source, 200, store);
    expect(items.map(({ seq }) => seq)).toEqual(Array.from({ length: 300 }, (_, seq) => seq));
  }
});
