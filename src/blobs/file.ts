import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PRIVATE_FILE_MODE, ensurePrivateDirs } from '../local/private-files';
import { type BlobStore, blobKey, checkBlobKey, missingBlob, verifiedBlob } from './blob-store';

/**
 * One file per blob under `dir`, for one host or a shared file system. The
 * directory is owner-only (0700) and each blob 0600: payloads are prompts and
 * agent outputs.
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
}
