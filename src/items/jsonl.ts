import { open } from 'node:fs/promises';
import type { z } from 'zod';
import { type ItemsPage, PAGE_BYTES, itemsFailure, parseItem } from './item-source';

/** A file is read this much at a time; a longer line is read on until its end. */
const CHUNK_BYTES = 64 * 1024;

/** Where a page of a file starts: its byte offset, the lines before it, the next item's place. */
export interface FilePosition {
  offset: number;
  line: number;
  seq: number;
}

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
  const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
    throw itemsFailure(
      `items file ${path} cannot be read (${error.code ?? error.message}); put it on a path every worker sees`,
    );
  });
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
