import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type CheckpointStep,
  type CheckpointStepKey,
  WORKFLOW_CHECKPOINT_SCHEMA_VERSION,
  type WorkflowCheckpoint,
} from '../contracts';
import { PRIVATE_FILE_MODE, ensurePrivateDirs } from '../local/private-files';
import {
  type A3sDocument,
  a3sCheckpointChunks,
  decodeA3sFile,
  decodeA3sJournal,
  encodeA3sJournalLine,
} from './a3s-codec';
import {
  KeyedLock,
  isMissing,
  namesIn,
  readTextIfAny,
  removeOrphanedTemps,
  syncFolder,
  writeFileAtomically,
} from './atomic-file';
import { FileStepCache } from './file-step-cache';
import { FileStepStates } from './file-step-states';
import { FileTranscripts } from './file-transcripts';
import {
  type AppendResult,
  type CheckpointAppend,
  type CheckpointSummary,
  CheckpointUnreadableError,
  type SaveResult,
  checkCheckpointId,
  type SessionStore,
  type StepStateRecord,
  type StepStateSummary,
  isRegression,
  mergeSteps,
  respecified,
  stepKey,
  summarize,
  unreadableSummary,
} from './session-store';
import type { CacheEntry, CacheEntrySummary } from './step-cache';

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

/** A checkpoint file as read: what it holds, and its document (which keeps the fields TAO does not know). */
interface StoredFile {
  path: string;
  /** The file as parsed, for what a rewrite keeps of it. */
  document: A3sDocument;
  /** Its size. */
  bytes: number;
  /** With the journal's steps applied. */
  checkpoint: WorkflowCheckpoint;
  /** Bytes of the journal beside it: complete lines, and all (more after a torn write). */
  journal: { complete: number; size: number };
}

/**
 * What this process knows of one checkpoint's files, so that an append reads
 * nothing: it holds while both files are as it last saw them (same inode,
 * size and mtime); a write by another process shows there and is read again.
 */
interface FilesSeen {
  fileKey: string;
  journalKey: string;
  /** Whether the a3s file is in the v1 folder (a legacy one is rewritten there before any journal starts). */
  inV1: boolean;
  fileBytes: number;
  journal: { complete: number; size: number };
  /** Steps held. */
  count: number;
  /** Spec digest by task id, for every step held. */
  digests: Map<string, string | undefined>;
}

/**
 * A journal is folded into the a3s file once it outgrows this many times the
 * file: each fold rewrites the file, and with the file growing by this factor
 * plus one each time, a run writes its steps about 1 + 3/2 times in all.
 */
const FOLD_RATIO = 2;
/** Below this, a journal is never folded: small runs finish (and delete it) first. */
const FOLD_MIN_BYTES = 256 * 1024;
/** Checkpoints whose files this process remembers; a forgotten one is read again on its next append. */
const FILES_SEEN_MAX = 1_000;

const heldSteps = ({ steps }: WorkflowCheckpoint): Pick<FilesSeen, 'count' | 'digests'> => ({
  count: steps.length,
  digests: new Map(steps.map((step) => [step.taskId, step.specDigest])),
});

const statKey = async (path: string): Promise<string> => {
  try {
    const { ino, size, mtimeMs } = await stat(path);
    return `${ino}:${size}:${mtimeMs}`;
  } catch (error) {
    if (isMissing(error)) return '';
    throw error;
  }
};

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
 *
 * Appends go to a journal beside the file, `id_<…>.journal`: one JSON line per
 * append, fsynced, so recording a step costs its own bytes rather than a
 * rewrite of the checkpoint. The journal is folded into the file when it
 * outgrows it ({@link FOLD_RATIO}). a3s reads the file alone: a step only in
 * the journal is one it would run again, which is safe.
 */
export class FileSessionStore implements SessionStore {
  /** Where checkpoints are written. */
  readonly folder: string;
  /** Where the seed's layout kept them; read, listed and deleted, never written. */
  readonly legacyFolder: string;
  /** Serializes read-compare-write per checkpoint within this process. */
  private readonly locks = new KeyedLock();
  private readonly seen = new Map<string, FilesSeen>();
  /** Bytes this store has written to checkpoint files and journals; the benchmark divides it by what was recorded. */
  bytesWritten = 0;
  private readonly stepStates: FileStepStates;
  private readonly cache: FileStepCache;
  /** In `<dir>/transcripts/` (see ./file-transcripts), which a3s does not read. */
  readonly transcripts: FileTranscripts;

  constructor(readonly dir: string) {
    this.folder = join(dir, 'v1', 'workflow_checkpoints');
    this.legacyFolder = join(dir, 'workflow_checkpoints');
    this.stepStates = new FileStepStates(dir, (action, error) =>
      this.ioError(action, error, this.stepStates.folder),
    );
    this.cache = new FileStepCache(dir, (action, error) => this.ioError(action, error, this.cache.folder));
    this.transcripts = new FileTranscripts(dir, (action, error) =>
      this.ioError(action, error, this.transcripts.folder),
    );
  }

  /**
   * Fails fast, with the fix, when the folder cannot be created or written;
   * clears what writers killed mid-write left (see removeOrphanedTemps).
   */
  async ensureWritable(): Promise<void> {
    try {
      await ensurePrivateDirs(this.folder, join(this.dir, 'v1'), this.dir);
      await access(this.folder, constants.W_OK | constants.X_OK);
    } catch (error) {
      throw this.ioError('cannot write to', error);
    }
    await removeOrphanedTemps(this.folder, this.stepStates.folder, this.cache.folder);
  }

  private pathOf(checkpointId: string): string {
    return join(this.folder, `${v1Stem(checkCheckpointId(checkpointId))}.json`);
  }

  private journalPathOf(checkpointId: string): string {
    return join(this.folder, `${v1Stem(checkCheckpointId(checkpointId))}.journal`);
  }

  private legacyPathOf(checkpointId: string): string {
    return join(this.legacyFolder, `${fileStem(checkCheckpointId(checkpointId))}.json`);
  }

  load(checkpointId: string): Promise<WorkflowCheckpoint | undefined> {
    // Locked, so a fold in this process never shows half done.
    return this.locked(checkpointId, async () => (await this.read(checkpointId))?.checkpoint);
  }

  /** From what this process knows of the files while they are unchanged (see filesSeen), else read. */
  loadIndex(checkpointId: string): Promise<CheckpointStepKey[] | undefined> {
    return this.locked(checkpointId, async () => {
      const seen = await this.filesSeen(checkpointId);
      // Reading it again throws the reason it cannot be read.
      if (seen === 'unreadable') return (await this.read(checkpointId))?.checkpoint.steps.map(stepKey);
      return seen && [...seen.digests].map(([taskId, specDigest]) => stepKey({ taskId, specDigest }));
    });
  }

  /** The v1 file, else the legacy one; a legacy file recording another id that shares its name is not this one. */
  private async read(checkpointId: string): Promise<StoredFile | undefined> {
    const v1 = await this.readFile(this.pathOf(checkpointId), this.journalPathOf(checkpointId));
    if (v1) return v1;
    const legacy = await this.readFile(this.legacyPathOf(checkpointId));
    return legacy && collides(checkpointId, legacy.checkpoint.workflowId) ? undefined : legacy;
  }

  /** The a3s file at `path` with the journal at `journalPath` (if any) applied. */
  private async readFile(path: string, journalPath?: string): Promise<StoredFile | undefined> {
    const text = await this.readText(path);
    if (text === undefined) return undefined;
    let checkpoint: WorkflowCheckpoint;
    let document: A3sDocument;
    try {
      ({ checkpoint, document } = decodeA3sFile(text));
    } catch (error) {
      throw new UnreadableFile((error as Error).message, path);
    }
    const file = { path, document, bytes: Buffer.byteLength(text) };
    const journalText = journalPath === undefined ? undefined : await this.readText(journalPath);
    if (journalText === undefined) return { ...file, checkpoint, journal: { complete: 0, size: 0 } };
    let journal: ReturnType<typeof decodeA3sJournal>;
    try {
      journal = decodeA3sJournal(journalText);
    } catch (error) {
      throw new UnreadableFile((error as Error).message, path);
    }
    const last = journal.batches.at(-1);
    return {
      ...file,
      checkpoint: {
        ...checkpoint,
        steps: mergeSteps(
          checkpoint.steps,
          journal.batches.flatMap((batch) => batch.steps),
        ),
        checkpointMs: last?.checkpointMs ?? checkpoint.checkpointMs,
      },
      journal: {
        complete: Buffer.byteLength(journalText.slice(0, journal.completeLength)),
        size: Buffer.byteLength(journalText),
      },
    };
  }

  private readText(path: string): Promise<string | undefined> {
    return readTextIfAny(
      path,
      (error) => new CheckpointUnreadableError(this.ioError('cannot read', error).message),
    );
  }

  save(checkpointId: string, checkpoint: WorkflowCheckpoint): Promise<SaveResult> {
    return this.locked(checkpointId, async () => {
      const existing = await this.readReplacing(checkpointId);
      if (isRegression(existing?.checkpoint, checkpoint)) return 'stale';
      await this.rewrite(checkpointId, checkpoint, existing?.document);
      return 'saved';
    });
  }

  append(checkpointId: string, { savedCount, steps }: CheckpointAppend): Promise<AppendResult> {
    return this.locked(checkpointId, async () => {
      let seen = await this.filesSeen(checkpointId);
      if (seen === 'unreadable') {
        if (savedCount > 0) return 'missing-base';
        await this.readReplacing(checkpointId); // sets the unreadable file aside
        seen = undefined;
      }
      if ((seen?.count ?? 0) < savedCount) return 'missing-base';
      const fresh = steps.filter(
        (step) => !seen?.digests.has(step.taskId) || respecified(seen.digests.get(step.taskId), step),
      );
      if (fresh.length === 0) return 'saved'; // a retry of an append that landed
      if (!seen?.inV1) {
        // The first append (or the first since a legacy file) writes the a3s file itself, so a3s sees it.
        const existing = seen ? await this.read(checkpointId) : undefined;
        await this.rewrite(
          checkpointId,
          this.checkpointOf(checkpointId, existing, fresh),
          existing?.document,
        );
        return 'saved';
      }
      await this.appendJournal(checkpointId, seen, fresh);
      if (seen.journal.complete > Math.max(FOLD_MIN_BYTES, FOLD_RATIO * seen.fileBytes)) {
        const existing = (await this.read(checkpointId))!;
        await this.rewrite(checkpointId, this.checkpointOf(checkpointId, existing, []), existing.document);
      }
      return 'saved';
    });
  }

  private checkpointOf(
    checkpointId: string,
    existing: StoredFile | undefined,
    added: readonly CheckpointStep[],
  ): WorkflowCheckpoint {
    return {
      schemaVersion: WORKFLOW_CHECKPOINT_SCHEMA_VERSION,
      workflowId: checkpointId,
      steps: mergeSteps(existing?.checkpoint.steps ?? [], added),
      checkpointMs: Date.now(),
    };
  }

  /** What is held, or `undefined` for nothing or an unreadable checkpoint, which is set aside first. */
  private async readReplacing(checkpointId: string): Promise<StoredFile | undefined> {
    try {
      return await this.read(checkpointId);
    } catch (error) {
      if (!(error instanceof CheckpointUnreadableError)) throw error;
      // Never destroy what we cannot read: a newer build may need it. (A legacy file is never written over.)
      if (error instanceof UnreadableFile && error.path === this.pathOf(checkpointId)) {
        const aside = `.unreadable-${Date.now()}`;
        await rename(error.path, `${error.path}${aside}`).catch(() => undefined);
        await rename(this.journalPathOf(checkpointId), `${this.journalPathOf(checkpointId)}${aside}`).catch(
          () => undefined,
        );
      }
      return undefined;
    }
  }

  /** The a3s file holds all of `checkpoint` and the journal is gone; what this process knows is brought up to date. */
  private async rewrite(
    checkpointId: string,
    checkpoint: WorkflowCheckpoint,
    previous?: A3sDocument,
  ): Promise<void> {
    const target = this.pathOf(checkpointId);
    const bytes = await this.writeAtomically(target, a3sCheckpointChunks(checkpoint, previous));
    await rm(this.journalPathOf(checkpointId), { force: true });
    this.remember(checkpointId, {
      fileKey: await statKey(target),
      journalKey: '',
      inV1: true,
      fileBytes: bytes,
      journal: { complete: 0, size: 0 },
      ...heldSteps(checkpoint),
    });
  }

  /** One fsynced line; a torn line a crash left at the end is cut first. */
  private async appendJournal(checkpointId: string, seen: FilesSeen, steps: CheckpointStep[]): Promise<void> {
    const path = this.journalPathOf(checkpointId);
    const line = encodeA3sJournalLine(steps, Date.now());
    try {
      const handle = await open(path, 'a', PRIVATE_FILE_MODE);
      try {
        if (seen.journal.size > seen.journal.complete) await handle.truncate(seen.journal.complete);
        await handle.write(line);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      if (seen.journal.size === 0) await syncFolder(this.folder); // a new file's name is durable only then
    } catch (error) {
      throw this.ioError('cannot write to', error);
    }
    const bytes = Buffer.byteLength(line);
    this.bytesWritten += bytes;
    seen.journal = { complete: seen.journal.complete + bytes, size: seen.journal.complete + bytes };
    seen.journalKey = await statKey(path);
    for (const step of steps) {
      if (!seen.digests.has(step.taskId)) seen.count++;
      seen.digests.set(step.taskId, step.specDigest);
    }
  }

  /** What this process knows of the checkpoint's files, read again if another process changed them. */
  private async filesSeen(checkpointId: string): Promise<FilesSeen | 'unreadable' | undefined> {
    const [file, journal] = await Promise.all([
      statKey(this.pathOf(checkpointId)),
      statKey(this.journalPathOf(checkpointId)),
    ]);
    const known = this.seen.get(checkpointId);
    if (known && known.fileKey === file && known.journalKey === journal) return known;
    let stored: StoredFile | undefined;
    try {
      stored = await this.read(checkpointId);
    } catch (error) {
      if (error instanceof CheckpointUnreadableError) return 'unreadable';
      throw error;
    }
    if (!stored) return undefined;
    return this.remember(checkpointId, {
      fileKey: file,
      journalKey: journal,
      inV1: stored.path === this.pathOf(checkpointId),
      fileBytes: stored.bytes,
      journal: stored.journal,
      ...heldSteps(stored.checkpoint),
    });
  }

  private remember(checkpointId: string, seen: FilesSeen): FilesSeen {
    this.seen.delete(checkpointId);
    this.seen.set(checkpointId, seen);
    if (this.seen.size > FILES_SEEN_MAX) this.seen.delete(this.seen.keys().next().value!);
    return seen;
  }

  async delete(checkpointId: string): Promise<void> {
    await this.locked(checkpointId, async () => {
      this.seen.delete(checkpointId);
      await rm(this.pathOf(checkpointId), { force: true });
      await rm(this.journalPathOf(checkpointId), { force: true });
      const legacy = await this.readFile(this.legacyPathOf(checkpointId)).catch(() => undefined);
      // A legacy file that records another id sharing the name is that id's, not ours.
      if (!legacy || !collides(checkpointId, legacy.checkpoint.workflowId)) {
        await rm(this.legacyPathOf(checkpointId), { force: true });
      }
    });
  }

  /** Both layouts; an id in both shows once, as its v1 file, which is the one loads read. */
  async list(): Promise<CheckpointSummary[]> {
    const v1 = await this.listFolder(this.folder, true, (stem, recorded) =>
      recorded !== undefined && v1Stem(recorded) === stem ? recorded : (idOfV1Stem(stem) ?? stem),
    );
    const seen = new Set(v1.map((summary) => summary.checkpointId));
    const legacy = await this.listFolder(this.legacyFolder, false, (stem, recorded) =>
      // The legacy name is lossy; the recorded id is the real one when it maps to this file.
      recorded !== undefined && fileStem(recorded) === stem ? recorded : stem,
    );
    return [...v1, ...legacy.filter((summary) => !seen.has(summary.checkpointId))].sort((a, b) =>
      a.checkpointId < b.checkpointId ? -1 : a.checkpointId > b.checkpointId ? 1 : 0,
    );
  }

  private async listFolder(
    folder: string,
    withJournals: boolean,
    idOf: (stem: string, recordedId: string | undefined) => string,
  ): Promise<CheckpointSummary[]> {
    const names = await namesIn(folder, '.json', (error) => this.ioError('cannot list', error));
    const summaries: CheckpointSummary[] = [];
    for (const name of names) {
      const stem = name.slice(0, -'.json'.length);
      try {
        const journal = withJournals ? join(folder, `${stem}.journal`) : undefined;
        const stored = await this.readFile(join(folder, name), journal);
        if (stored) summaries.push(summarize(idOf(stem, stored.checkpoint.workflowId), stored.checkpoint));
      } catch (error) {
        summaries.push(unreadableSummary(idOf(stem, undefined), error));
      }
    }
    return summaries;
  }

  /** In `<dir>/step_states/` (see ./file-step-states), which a3s does not read. */
  saveStepState(key: string, record: StepStateRecord): Promise<SaveResult> {
    return this.stepStates.save(key, record);
  }

  loadStepState(key: string): Promise<StepStateRecord | undefined> {
    return this.stepStates.load(key);
  }

  deleteStepState(key: string): Promise<void> {
    return this.stepStates.delete(key);
  }

  listStepStates(): Promise<StepStateSummary[]> {
    return this.stepStates.list();
  }

  /** In `<dir>/step_cache/` (see ./file-step-cache), which a3s does not read. */
  getCached(key: string, nowMs: number): Promise<CacheEntry | undefined> {
    return this.cache.getCached(key, nowMs);
  }

  putCached(entry: CacheEntry): Promise<void> {
    return this.cache.putCached(entry);
  }

  listCached(): Promise<CacheEntrySummary[]> {
    return this.cache.listCached();
  }

  deleteCached(key: string): Promise<boolean> {
    return this.cache.deleteCached(key);
  }

  clearCached(): Promise<number> {
    return this.cache.clearCached();
  }

  /** Writes the pieces as `target`'s new content; resolves to its size. */
  private async writeAtomically(target: string, pieces: Iterable<string>): Promise<number> {
    await ensurePrivateDirs(this.folder, join(this.dir, 'v1'), this.dir).catch((error) => {
      throw this.ioError('cannot create', error);
    });
    let bytes: number;
    try {
      bytes = await writeFileAtomically(target, pieces);
    } catch (error) {
      throw this.ioError('cannot write to', error);
    }
    this.bytesWritten += bytes;
    return bytes;
  }

  private locked<T>(checkpointId: string, work: () => Promise<T>): Promise<T> {
    return this.locks.run(checkpointId, work);
  }

  private ioError(action: string, error: unknown, folder = this.folder): Error {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return new Error(
      `file checkpoint store ${action} ${folder} (${code}); fix its permissions or choose another folder with --store file:<dir>`,
    );
  }
}
