/**
 * Items in the blob store: `uploadItems` turns a JSONL file into page blobs
 * of up to `pageItems` items each (their lines, blank lines dropped) and a
 * manifest blob naming them in order, so a worker reads page k with two
 * gets, the manifest and that page, whatever the run's size. Blobs are
 * content-addressed: the manifest's key names exactly these items.
 *
 * A page blob is named only by its manifest, and the manifest only by the
 * source in a run's input: `tao gc` keeps both while the run is live
 * (src/client/live-runs.ts finds the source anywhere in the input).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { BlobStore } from '../blobs';
import { InputError } from '../config/data-file';
import { type ItemRange, type ItemsPage, PAGE_BYTES, itemsFailure, parseItem } from './item-source';

export const ItemManifestSchema = z
  .object({
    pages: z.array(z.object({ key: z.string(), items: z.number().int().min(1) }).strict()),
    items: z.number().int().min(0),
  })
  .strict();
export type ItemManifest = z.infer<typeof ItemManifestSchema>;

/** Where a page of a manifest starts: the page blob, the item in it, the item's place in the source. */
export interface BlobPosition {
  page: number;
  item: number;
  seq: number;
}

export interface UploadOptions {
  /** Items per page blob; default 1000. */
  pageItems?: number;
  /** Each line is checked against it as it is read, so a bad file fails before any run starts. */
  schema?: z.ZodTypeAny;
  /** What no two items may share (a batch's task ids, which steering and decisions name a step by), and its name. */
  unique?: { key: (item: unknown) => string; what: string };
}

/**
 * Puts the JSONL file at `path` into `blobs` as pages and a manifest; the
 * run's source is the result. Reads the file as a stream: one page of
 * lines is held at a time. An unreadable file, a malformed line or an
 * invalid item is an {@link InputError} naming the file and line.
 */
export async function uploadItems(
  blobs: BlobStore,
  path: string,
  options: UploadOptions = {},
): Promise<{ blob: string }> {
  const pageItems = options.pageItems ?? 1000;
  const manifest: ItemManifest = { pages: [], items: 0 };
  let page: string[] = [];
  const flush = async () => {
    if (page.length === 0) return;
    const key = await blobs.put(Buffer.from(page.join('\n')));
    manifest.pages.push({ key, items: page.length });
    manifest.items += page.length;
    page = [];
  };
  const input = createReadStream(path, 'utf8');
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  const { schema = z.unknown(), unique } = options;
  const seen = new Map<string, number>();
  try {
    for await (const text of lines) {
      line++;
      if (text.trim() === '') continue;
      const item = parseItem(text, schema, `${path} line ${line}`);
      if (unique) {
        const key = unique.key(item);
        const first = seen.get(key);
        if (first !== undefined) {
          throw new InputError(
            `${path} line ${line}: ${unique.what} ${JSON.stringify(key)} repeats line ${first}'s; give each item its own`,
          );
        }
        seen.set(key, line);
      }
      page.push(text);
      if (page.length === pageItems) await flush();
    }
  } catch (error) {
    // Whoever uploads is at a command line: a bad file is bad input, said in one line.
    const { code, message } = error as NodeJS.ErrnoException;
    throw new InputError(code ? `items file ${path} cannot be read (${code}); check the path` : message);
  } finally {
    lines.close();
    input.destroy();
  }
  await flush();
  return { blob: await blobs.put(Buffer.from(JSON.stringify(manifest))) };
}

/**
 * Up to `limit` items (and {@link PAGE_BYTES} of them) of the manifest at `key`, from item `from.item` of
 * page `from.page` on: the manifest and the pages the items are on are read,
 * no others.
 */
export async function readBlobPage(
  blobs: BlobStore,
  key: string,
  from: BlobPosition,
  limit: number,
  schema: z.ZodTypeAny,
): Promise<ItemsPage> {
  const { pages } = await readManifest(blobs, key);
  const items: ItemsPage['items'] = [];
  let { page, item, seq } = from;
  let bytes = 0;
  const full = () => items.length >= limit || bytes >= PAGE_BYTES;
  while (page < pages.length && !full()) {
    const lines = linesFrom(await blobs.get(pages[page]!.key), item);
    let line = lines.next();
    for (; !line.done && !full(); line = lines.next(), item++, seq++) {
      const where = `items page ${page} of manifest ${key}, item ${seq}`;
      items.push({ seq, item: parseItem(line.value, schema, where) });
      bytes += line.value.length;
    }
    if (line.done) [page, item] = [page + 1, 0];
  }
  return { items, next: page < pages.length ? { page, item, seq } : null };
}

/**
 * The lines of a page blob from line `from` on, each decoded as it is taken.
 * A read takes what fits in {@link PAGE_BYTES} of a page blob of up to 1,000
 * items: decoding the whole blob for it made some 20 times the text it took,
 * in strings too large for V8's young generation, which grew the worker's
 * old one (a profile of the batch bench found a sixth of all it allocated).
 */
function* linesFrom(bytes: Uint8Array, from: number): Generator<string> {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let start = 0;
  for (let skipped = 0; skipped < from; skipped++) {
    start = buffer.indexOf(0x0a, start) + 1;
    if (start === 0) return;
  }
  while (start <= buffer.length) {
    const end = buffer.indexOf(0x0a, start);
    const stop = end < 0 ? buffer.length : end;
    yield buffer.toString('utf8', start, stop);
    start = stop + 1;
  }
}

/** The items of the manifest at `key` as up to `parts` ranges of about equal counts, from the manifest alone. */
export async function splitManifest(blobs: BlobStore, key: string, parts: number): Promise<ItemRange[]> {
  const { pages, items } = await readManifest(blobs, key);
  const starts = [
    ...new Set(Array.from({ length: parts }, (_, k) => Math.floor((k * items) / parts))),
  ].filter((seq) => seq < items);
  let page = 0;
  let first = 0; // the place of the page's first item
  return starts.map((seq, k) => {
    while (first + pages[page]!.items <= seq) first += pages[page++]!.items;
    return {
      from: seq === 0 ? null : { page, item: seq - first, seq },
      count: (starts[k + 1] ?? items) - seq,
    };
  });
}

/** The page blobs of the manifest at `key`, for `tao gc` to keep while a run that reads them is live. */
export async function itemPageKeys(blobs: BlobStore, key: string): Promise<string[]> {
  return (await readManifest(blobs, key)).pages.map((page) => page.key);
}

async function readManifest(blobs: BlobStore, key: string): Promise<ItemManifest> {
  const manifest = ItemManifestSchema.safeParse(parseJson(await blobs.get(key)));
  if (!manifest.success) {
    throw itemsFailure(
      `blob ${key} in ${blobs.location} is not an items manifest; give the run the source uploadItems returned`,
    );
  }
  return manifest.data;
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}
