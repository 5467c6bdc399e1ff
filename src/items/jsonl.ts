import { open } from 'node:fs/promises';
import type { z } from 'zod';
import { type ItemRange, type ItemsPage, PAGE_BYTES, itemsFailure, parseItem } from './item-source';

/** A file is read this much at a time; a longer line is read on until its end. */
const CHUNK_BYTES = 64 * 1024;

/** Where a page of a file starts: its byte offset, the lines before it, the next item's place. */
export interface FilePosition {
  offset: number;
  line: number;
  seq: number;
}

/**
 * The file at `path` as up to `parts` ranges of about equal bytes, each
 * starting at an item's line, found in one pass that reads the file but
 * parses none of it (its pages check each item when they are read).
 */
export async function splitJsonl(path: string, parts: number): Promise<ItemRange[]> {
  const handle = await openSource(path);
  try {
    const { size } = await handle.stat();
    const starts: FilePosition[] = [];
    let line = 0;
    let seq = 0;
    let lineStart = 0;
    const chunk = Buffer.alloc(CHUNK_BYTES);
    // Whether the line being read has shown anything but blanks yet: then it is an item.
    let seen = false;
    for (let read = 0; ;) {
      const { bytesRead } = await handle.read(chunk, 0, CHUNK_BYTES, read);
      if (bytesRead === 0) break;
      const bytes = chunk.subarray(0, bytesRead);
      for (let i = 0; i < bytesRead;) {
        // Within an item's line only its end matters, found without looking at each byte.
        const end = seen ? bytes.indexOf(10, i) : i;
        if (end < 0) break;
        const byte = bytes[end]!;
        if (byte === 10) {
          line++;
          if (seen) seq++;
          seen = false;
          lineStart = read + end + 1;
        } else if (byte !== 32 && byte !== 9 && byte !== 13) {
          seen = true;
          // A range starts at the first item at or past its share of the bytes.
          if (lineStart >= (starts.length * size) / parts) starts.push({ offset: lineStart, line, seq });
        }
        i = end + 1;
      }
      read += bytesRead;
    }
    const total = seq + (seen ? 1 : 0);
    return starts.map((from, k) => ({
      from: from.offset === 0 ? null : from,
      count: (starts[k + 1]?.seq ?? total) - from.seq,
    }));
  } finally {
    await handle.close();
  }
}

const openSource = (path: string) =>
  open(path, 'r').catch((error: NodeJS.ErrnoException) => {
    throw itemsFailure(
      `items file ${path} cannot be read (${error.code ?? error.message}); put it on a path every worker sees`,
    );
  });

/**
 * Up to `limit` items (and {@link PAGE_BYTES} of them) of the JSONL file at
 * `path` from `from`: one JSON value per line, blank lines skipped (they take
 * no place), the last line's newline optional. Reads from the offset on, only
 * as far as the page needs.
 */
export async function readJsonlPage(
  path: string,
  from: FilePosition,
  limit: number,
  schema: z.ZodTypeAny,
): Promise<ItemsPage> {
  const handle = await openSource(path);
  try {
    const items: ItemsPage['items'] = [];
    let { offset, line, seq } = from;
    let pending = Buffer.alloc(0);
    let ended = false;
    let bytes = 0;
    const full = () => items.length >= limit || bytes >= PAGE_BYTES;
    while (!full() && !ended) {
      const chunk = Buffer.alloc(CHUNK_BYTES);
      const { bytesRead } = await handle.read(chunk, 0, CHUNK_BYTES, offset + pending.length);
      ended = bytesRead === 0;
      pending = Buffer.concat([pending, chunk.subarray(0, bytesRead)]);
      let start = 0;
      while (!full()) {
        let end = pending.indexOf(10, start);
        // The last line may go without its newline.
        if (end < 0 && ended && start < pending.length) end = pending.length;
        if (end < 0) break;
        const text = pending.subarray(start, end).toString('utf8');
        line++;
        if (text.trim() !== '') {
          items.push({ seq, item: parseItem(text, schema, `items file ${path} line ${line}`) });
          seq++;
          bytes += end - start;
        }
        start = Math.min(end + 1, pending.length);
      }
      offset += start;
      pending = pending.subarray(start);
    }
    return { items, next: ended && pending.length === 0 ? null : { offset, line, seq } };
  } finally {
    await handle.close();
  }
}
