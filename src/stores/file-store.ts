import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkflowCheckpoint } from '../contracts';
import { PRIVATE_FILE_MODE, ensurePrivateDirs } from '../local/private-files';
import { decodeA3sCheckpoint, encodeA3sCheckpoint } from './a3s-codec';
import {
  type CheckpointSummary,
  CheckpointUnreadableError,
  type SaveResult,
  checkCheckpointId,
  type SessionStore,
  isRegression,
  summarize,
  unreadableSummary,
} from './session-store';

/** The a3s file-name rule: path separators and `..` cannot reach outside the folder. */
export function safeCheckpointFileId(checkpointId: string): string {
  return checkpointId.replace(/[/\\]/g, '_').replace(/\.\./g, '_');
}

/** File systems cap a name at 255 bytes; past this many, the name is cut and a hash of the id keeps it unique. */
const MAX_STEM_BYTES = 200;

/** The a3s safe id, or for ids too long for a file name, its first part plus a hash of the whole id. */
function fileStem(checkpointId: string): string {
  const safe = safeCheckpointFileId(checkpointId);
  if (Buffer.byteLength(safe) <= MAX_STEM_BYTES) return safe;
  const hash = createHash('sha256').update(checkpointId).digest('hex').slice(0, 16);
  return `${Buffer.from(safe)
    .subarray(0, 120)
    .toString()
    .replace(/\uFFFD+$/, '')}~${hash}`;
}

/**
 * Whether a file holding `storedId`'s checkpoint was reached under a different
 * id with the same safe name. A file whose recorded id maps elsewhere was put
 * there by hand (or by a3s under another name) and belongs to whoever asks.
 */
function collides(checkpointId: string, storedId: string): boolean {
  return storedId !== checkpointId && fileStem(storedId) === fileStem(checkpointId);
}

/**
 * One pretty-printed a3s JSON file per checkpoint under
 * `<dir>/workflow_checkpoints/`, written atomically (temp file, fsync,
 * rename, fsync of the folder) so a crash leaves the old or the new file,
 * never half of one.
 */
export class FileSessionStore implements SessionStore {
  readonly folder: string;
  /** Serializes read-compare-write per checkpoint within this process. */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(readonly dir: string) {
    this.folder = join(dir, 'workflow_checkpoints');
  }

  /** Fails fast, with the fix, when the folder cannot be created or written. */
  async ensureWritable(): Promise<void> {
    try {
      await ensurePrivateDirs(this.folder, this.dir);
      await access(this.folder, constants.W_OK | constants.X_OK);
    } catch (error) {
      throw this.ioError('cannot write to', error);
    }
  }

  private pathOf(checkpointId: string): string {
    return join(this.folder, `${fileStem(checkCheckpointId(checkpointId))}.json`);
  }

  async load(checkpointId: string): Promise<WorkflowCheckpoint | undefined> {
    const stored = await this.read(checkpointId);
    // Another id that maps to the same file name (e.g. `a/b` and `a\\b`): not this checkpoint.
    return stored && collides(checkpointId, stored.workflowId) ? undefined : stored;
  }

  private async read(checkpointId: string): Promise<WorkflowCheckpoint | undefined> {
    const path = this.pathOf(checkpointId);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new CheckpointUnreadableError(this.ioError('cannot read', error).message);
    }
    return decodeA3sCheckpoint(text);
  }

  save(checkpointId: string, checkpoint: WorkflowCheckpoint): Promise<SaveResult> {
    return this.locked(checkpointId, async () => {
      const target = this.pathOf(checkpointId);
      let existing: WorkflowCheckpoint | undefined;
      try {
        existing = await this.read(checkpointId);
      } catch (error) {
        if (!(error instanceof CheckpointUnreadableError)) throw error;
        // Never destroy what we cannot read: a newer build may need it.
        await rename(target, `${target}.unreadable-${Date.now()}`).catch(() => undefined);
      }
      if (existing && collides(checkpointId, existing.workflowId)) {
        throw new Error(
          `checkpoint id "${checkpointId}" maps to the same file as "${existing.workflowId}" (${target}); use ids that differ in more than /, \\ and ..`,
        );
      }
      if (isRegression(existing, checkpoint)) return 'stale';
      await this.writeAtomically(target, encodeA3sCheckpoint(checkpoint));
      return 'saved';
    });
  }

  async delete(checkpointId: string): Promise<void> {
    await this.locked(checkpointId, () => rm(this.pathOf(checkpointId), { force: true }));
  }

  async list(): Promise<CheckpointSummary[]> {
    let names: string[];
    try {
      names = await readdir(this.folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw this.ioError('cannot list', error);
    }
    const summaries: CheckpointSummary[] = [];
    for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
      const fileId = name.slice(0, -'.json'.length);
      try {
        const checkpoint = decodeA3sCheckpoint(await readFile(join(this.folder, name), 'utf8'));
        // The file name is lossy; the recorded id is the real one when it maps to this file.
        const id = fileStem(checkpoint.workflowId) === fileId ? checkpoint.workflowId : fileId;
        summaries.push(summarize(id, checkpoint));
      } catch (error) {
        summaries.push(unreadableSummary(fileId, error));
      }
    }
    return summaries;
  }

  private async writeAtomically(target: string, text: string): Promise<void> {
    await ensurePrivateDirs(this.folder, this.dir).catch((error) => {
      throw this.ioError('cannot create', error);
    });
    const temp = `${target}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
    try {
      const handle = await open(temp, 'wx', PRIVATE_FILE_MODE);
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw this.ioError('cannot write to', error);
    }
    const dirHandle = await open(this.folder, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  }

  private locked<T>(checkpointId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(checkpointId) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.locks.set(checkpointId, settled);
    void settled.then(() => {
      if (this.locks.get(checkpointId) === settled) this.locks.delete(checkpointId);
    });
    return next;
  }

  private ioError(action: string, error: unknown): Error {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return new Error(
      `file checkpoint store ${action} ${this.folder} (${code}); fix its permissions or choose another folder with --store file:<dir>`,
    );
  }
}
