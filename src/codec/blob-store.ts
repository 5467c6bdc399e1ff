import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Where payloads too large for Temporal history live. Content-addressed, so a
 * retried encode of the same bytes yields the same key and writes are idempotent.
 */
export interface BlobStore {
  put(bytes: Uint8Array): Promise<string>;
  get(key: string): Promise<Uint8Array>;
}

const KEY = /^sha256-[0-9a-f]{64}$/;

/** One file per blob under `<dir>`; every worker and client that shares the directory resolves every blob. */
export class FileBlobStore implements BlobStore {
  constructor(readonly dir: string) {}

  async put(bytes: Uint8Array): Promise<string> {
    const key = `sha256-${createHash('sha256').update(bytes).digest('hex')}`;
    await mkdir(this.dir, { recursive: true });
    // Temp + rename: a reader never sees half a blob, and racing writers of one key write the same bytes.
    const temp = join(this.dir, `.${key}.${process.pid}.${Date.now()}.tmp`);
    await writeFile(temp, bytes);
    await rename(temp, join(this.dir, key));
    return key;
  }

  async get(key: string): Promise<Uint8Array> {
    if (!KEY.test(key)) throw new Error(`bad blob key "${key}": expected sha256-<64 hex digits>`);
    try {
      return await readFile(join(this.dir, key));
    } catch (error) {
      throw new Error(
        `payload blob ${key} not found in ${this.dir} (${(error as NodeJS.ErrnoException).code}); point --blobs at the directory the workers write to`,
      );
    }
  }
}
