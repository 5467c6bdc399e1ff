/**
 * The file store's step cache: one JSON file per entry,
 * `<dir>/step_cache/<sha256 of the key, 32 hex digits>.json`, owner-only and
 * replaced atomically (see ./atomic-file), so workers sharing the folder
 * never read half an entry. a3s does not read this folder.
 */
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ensurePrivateDirs } from '../local/private-files';
import { isMissing, namesIn, readTextIfAny, writeFileAtomically } from './atomic-file';
import { describeZodError } from '../contracts';
import {
  type CacheEntry,
  CacheEntrySchema,
  type CacheEntrySummary,
  type StepCacheStore,
  byKey,
  cacheSummary,
  isFresh,
} from './step-cache';

export class FileStepCache implements StepCacheStore {
  readonly folder: string;

  constructor(
    private readonly dir: string,
    private readonly ioError: (action: string, error: unknown) => Error,
  ) {
    this.folder = join(dir, 'step_cache');
  }

  private pathOf(key: string): string {
    return join(this.folder, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.json`);
  }

  async getCached(key: string, nowMs: number): Promise<CacheEntry | undefined> {
    // An unreadable entry is a miss: the step runs and its outcome replaces it.
    const entry = await this.read(this.pathOf(key)).catch(() => undefined);
    return entry && entry.key === key && isFresh(entry, nowMs) ? entry : undefined;
  }

  async putCached(entry: CacheEntry): Promise<void> {
    try {
      await ensurePrivateDirs(this.dir, this.folder);
      await writeFileAtomically(this.pathOf(entry.key), `${JSON.stringify(entry)}\n`);
    } catch (error) {
      throw this.ioError('cannot write to', error);
    }
  }

  async listCached(): Promise<CacheEntrySummary[]> {
    const summaries: CacheEntrySummary[] = [];
    for (const path of await this.files()) {
      try {
        const entry = await this.read(path);
        if (entry) summaries.push(cacheSummary(entry));
      } catch (error) {
        summaries.push({ ...unknownEntry(path), unreadable: (error as Error).message });
      }
    }
    return summaries.sort(byKey);
  }

  async deleteCached(key: string): Promise<boolean> {
    const path = this.pathOf(key);
    const entry = await this.read(path).catch(() => undefined);
    // `list` names an unreadable entry by its path, so that is what deletes it.
    const target = entry?.key === key ? path : dirname(key) === this.folder ? key : undefined;
    if (!target) return false;
    try {
      await rm(target);
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw this.ioError('cannot remove from', error);
    }
  }

  async clearCached(): Promise<number> {
    const paths = await this.files();
    await Promise.all(paths.map((path) => rm(path, { force: true })));
    return paths.length;
  }

  private async files(): Promise<string[]> {
    const names = await namesIn(this.folder, '.json', (error) => this.ioError('cannot list', error));
    return names.map((name) => join(this.folder, name));
  }

  private async read(path: string): Promise<CacheEntry | undefined> {
    const text = await readTextIfAny(path, (error) => this.ioError('cannot read', error));
    if (text === undefined) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new Error(`cache entry ${path} is not JSON: ${(error as Error).message}`);
    }
    const parsed = CacheEntrySchema.safeParse(json);
    if (!parsed.success) throw new Error(`cache entry ${path}: ${describeZodError(parsed.error)}`);
    return parsed.data;
  }
}

const unknownEntry = (path: string): Omit<CacheEntry, 'outcome'> => ({
  key: path,
  taskId: '',
  agent: '',
  workflowId: '',
  savedMs: 0,
});
