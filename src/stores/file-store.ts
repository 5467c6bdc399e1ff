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

const idHash = (checkpointId: string) => createHash('sha256').update(checkpointId).digest('hex').slice(0, 16);

/** The legacy a3s safe id, or for ids too long for a file name, its first part plus a hash of the whole id. */
function fileStem(checkpointId: string): string {
  const safe = safeCheckpointFileId(checkpointId);
  if (Buffer.byteLength(safe) <= MAX_STEM_BYTES) return safe;
  return `${Buffer.from(safe)
    .subarray(0, 120)
    .toString()
    .replace(/\uFFFD+$/, '')}~${idHash(checkpointId)}`;
}

/**
 * The a3s 9.1.3 name: `id_` and the id in unpadded base64url, one file per id
 * whatever characters it holds. Ids too long for a file name (a3s cannot
 * store those at all) keep a prefix of it plus a hash of the whole id.
 */
function v1Stem(checkpointId: string): string {
  const encoded = Buffer.from(checkpointId).toString('base64url');
  return encoded.length <= MAX_STEM_BYTES
    ? `id_${encoded}`
    : `id_${encoded.slice(0, 160)}~${idHash(checkpointId)}`;
}

/** The id a v1 file name spells, when it spells one. */
function idOfV1Stem(stem: string): string | undefined {
  if (!stem.startsWith('id_') || stem.includes('~')) return undefined;
  return Buffer.from(stem.slice(3), 'base64url').toString('utf8');
}

/**
 * Whether a file holding `storedId`'s checkpoint was reached under a different
 * id with the same safe name. A file whose recorded id maps elsewhere was put
 * there by hand (or by a3s under another name) and belongs to whoever asks.
 */
function collides(checkpointId: string, storedId: string): boolean {
  return storedId !== checkpointId && fileStem(storedId) === fileStem(checkpointId);
}

/** A file that exists but does not decode, and where it is. */
class UnreadableFile extends CheckpointUnreadableError {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

/** A checkpoint file as read: what it holds, and its text (which keeps the fields TAO does not know). */
interface StoredFile {
  path: string;
  text: string;
  checkpoint: WorkflowCheckpoint;
}

/**
 * One pretty-printed a3s JSON file per checkpoint, written atomically (temp
 * file, fsync, rename, fsync of the folder) so a crash leaves the old or the
 * new file, never half of one. The layout is a3s 9.1.3's:
 * `<dir>/v1/workflow_checkpoints/id_<base64url id>.json`. Like a3s, the store
 * falls back to the legacy `<dir>/workflow_checkpoints/<safe id>.json` (the
 * seed's layout) when it reads and deletes, and lists both; it only writes v1,
 * so a legacy checkpoint moves to v1 on its next save and the legacy file is
 * left as it was. A rewrite keeps what TAO does not know in the file (a3s's
 * `result_receipt`) for the steps whose outcomes it did not change.
 */
export class FileSessionStore implements SessionStore {
  /** Where checkpoints are written. */
  readonly folder: string;
  /** Where the seed's layout kept them; read, listed and deleted, never written. */
  readonly legacyFolder: string;
  /** Serializes read-compare-write per checkpoint within this process. */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(readonly dir: string) {
    this.folder = join(dir, 'v1', 'workflow_checkpoints');
    this.legacyFolder = join(dir, 'workflow_checkpoints');
  }

  /** Fails fast, with the fix, when the folder cannot be created or written. */
  async ensureWritable(): Promise<void> {
    try {
      await ensurePrivateDirs(this.folder, join(this.dir, 'v1'), this.dir);
      await access(this.folder, constants.W_OK | constants.X_OK);
    } catch (error) {
      throw this.ioError('cannot write to', error);
    }
  }

  private pathOf(checkpointId: string): string {
    return join(this.folder, `${v1Stem(checkCheckpointId(checkpointId))}.json`);
  }

  private legacyPathOf(checkpointId: string): string {
    return join(this.legacyFolder, `${fileStem(checkCheckpointId(checkpointId))}.json`);
  }

  async load(checkpointId: string): Promise<WorkflowCheckpoint | undefined> {
    return (await this.read(checkpointId))?.checkpoint;
  }

  /** The v1 file, else the legacy one; a legacy file recording another id that shares its name is not this one. */
  private async read(checkpointId: string): Promise<StoredFile | undefined> {
    const v1 = await this.readFile(this.pathOf(checkpointId));
    if (v1) return v1;
    const legacy = await this.readFile(this.legacyPathOf(checkpointId));
    return legacy && collides(checkpointId, legacy.checkpoint.workflowId) ? undefined : legacy;
  }

  private async readFile(path: string): Promise<StoredFile | undefined> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new CheckpointUnreadableError(this.ioError('cannot read', error).message);
    }
    try {
      return { path, text, checkpoint: decodeA3sCheckpoint(text) };
    } catch (error) {
      throw new UnreadableFile((error as Error).message, path);
    }
  }

  save(checkpointId: string, checkpoint: WorkflowCheckpoint): Promise<SaveResult> {
    return this.locked(checkpointId, async () => {
      const target = this.pathOf(checkpointId);
      let existing: StoredFile | undefined;
      try {
        existing = await this.read(checkpointId);
      } catch (error) {
        if (!(error instanceof CheckpointUnreadableError)) throw error;
        // Never destroy what we cannot read: a newer build may need it. (A legacy file is never written over.)
        if (error instanceof UnreadableFile && error.path === target) {
          await rename(target, `${target}.unreadable-${Date.now()}`).catch(() => undefined);
        }
      }
      if (isRegression(existing?.checkpoint, checkpoint)) return 'stale';
      await this.writeAtomically(target, encodeA3sCheckpoint(checkpoint, existing?.text));
      return 'saved';
    });
  }

  async delete(checkpointId: string): Promise<void> {
    await this.locked(checkpointId, async () => {
      await rm(this.pathOf(checkpointId), { force: true });
      const legacy = await this.readFile(this.legacyPathOf(checkpointId)).catch(() => undefined);
      // A legacy file that records another id sharing the name is that id's, not ours.
      if (!legacy || !collides(checkpointId, legacy.checkpoint.workflowId)) {
        await rm(this.legacyPathOf(checkpointId), { force: true });
      }
    });
  }

  /** Both layouts; an id in both shows once, as its v1 file, which is the one loads read. */
  async list(): Promise<CheckpointSummary[]> {
    const v1 = await this.listFolder(this.folder, (stem, recorded) =>
      recorded !== undefined && v1Stem(recorded) === stem ? recorded : (idOfV1Stem(stem) ?? stem),
    );
    const seen = new Set(v1.map((summary) => summary.checkpointId));
    const legacy = await this.listFolder(this.legacyFolder, (stem, recorded) =>
      // The legacy name is lossy; the recorded id is the real one when it maps to this file.
      recorded !== undefined && fileStem(recorded) === stem ? recorded : stem,
    );
    return [...v1, ...legacy.filter((summary) => !seen.has(summary.checkpointId))].sort((a, b) =>
      a.checkpointId < b.checkpointId ? -1 : a.checkpointId > b.checkpointId ? 1 : 0,
    );
  }

  private async listFolder(
    folder: string,
    idOf: (stem: string, recordedId: string | undefined) => string,
  ): Promise<CheckpointSummary[]> {
    let names: string[];
    try {
      names = await readdir(folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw this.ioError('cannot list', error);
    }
    const summaries: CheckpointSummary[] = [];
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      const stem = name.slice(0, -'.json'.length);
      try {
        const checkpoint = decodeA3sCheckpoint(await readFile(join(folder, name), 'utf8'));
        summaries.push(summarize(idOf(stem, checkpoint.workflowId), checkpoint));
      } catch (error) {
        summaries.push(unreadableSummary(idOf(stem, undefined), error));
      }
    }
    return summaries;
  }

  private async writeAtomically(target: string, text: string): Promise<void> {
    await ensurePrivateDirs(this.folder, join(this.dir, 'v1'), this.dir).catch((error) => {
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
