import { readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PRIVATE_FILE_MODE, ensurePrivateDirs } from '../local/private-files';
import { isMissing } from '../stores/atomic-file';
import {
  type BlobEntry,
  type BlobStore,
  blobKey,
  checkBlobKey,
  isBlobKey,
  missingBlob,
  verifiedBlob,
} from './blob-store';

/**
 * One file per blob under `dir`, for one host or a shared file system. The
 * directory is owner-only (0700) and each blob 0600: payloads are prompts and
 * agent outputs. A put always writes the file (temp and rename), so its
 * mtime is the blob's written time.
 */
export class FileBlobStore implements BlobStore {
  private ready?: Promise<void>;

  constructor(readonly dir: string) {}

  get location(): string {
    return this.dir;
  }

  async put(bytes: Uint8Array): Promise<string> {
    const key = blobKey(bytes);
    this.ready ??= ensurePrivateDirs(this.dir);
    await this.ready;
    // Temp + rename: a reader never sees half a blob, and racing writers of one key write the same bytes.
    const temp = join(this.dir, `.${key}.${process.pid}.${Date.now()}.tmp`);
    await writeFile(temp, bytes, { mode: PRIVATE_FILE_MODE });
    await rename(temp, join(this.dir, key));
    return key;
  }

  async get(key: string): Promise<Uint8Array> {
    checkBlobKey(key);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(join(this.dir, key));
    } catch (error) {
      throw missingBlob(key, this.dir, (error as NodeJS.ErrnoException).code ?? String(error));
    }
    return verifiedBlob(key, bytes, this.dir);
  }

  async list(): Promise<BlobEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
    const entries = await Promise.all(names.filter(isBlobKey).map((key) => this.entry(key)));
    return entries.filter((entry) => entry !== undefined);
  }

  async delete(key: string, writtenBeforeMs = Infinity): Promise<boolean> {
    checkBlobKey(key);
    const entry = await this.entry(key);
    if (!entry || entry.writtenMs >= writtenBeforeMs) return false;
    await rm(join(this.dir, key), { force: true });
    return true;
  }

  /** `undefined` when the blob is gone (a concurrent delete). */
  private async entry(key: string): Promise<BlobEntry | undefined> {
    try {
      const { size, mtimeMs } = await stat(join(this.dir, key));
      return { key, bytes: size, writtenMs: mtimeMs };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }
}
