/**
 * File writes the file stores share: replacing a file so a crash leaves the
 * old one or the new one, never part of either, and one writer at a time per
 * key within this process; and the reads of a record per file they share.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { PRIVATE_FILE_MODE } from '../local/private-files';
import { isAlive } from '../local/processes';

/** Pieces are gathered into writes of about this many characters. */
const WRITE_CHARS = 64 * 1024;

/**
 * Where this process's pids mean something: the host and, on Linux, the pid
 * namespace (containers on one host may share a hostname, never a namespace).
 * A temp file carries it, so that only a process that can tell whether the
 * writer still lives ever removes it.
 */
const PID_SPACE = createHash('sha256').update(`${hostname()}\0${pidNamespace()}`).digest('hex').slice(0, 8);

function pidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return '';
  }
}

/** `<target>.tmp-<pid space>-<pid>-<random>`: at most 34 bytes past a target name, within the 255 a name may take. */
const TEMP_NAME = /\.tmp-([0-9a-f]{8})-(\d+)-[0-9a-f]{12}$/;

/** A fresh temp file name for process `pid` of this pid space to write `target` through. */
export const tempPathFor = (target: string, pid = process.pid) =>
  `${target}.tmp-${PID_SPACE}-${pid}-${randomBytes(6).toString('hex')}`;

/**
 * Replaces `target` with `content` (text, or pieces of it written as they
 * come, so a big file is never one string in memory), owner-only: a temp file
 * beside it, fsynced, renamed over it, then the folder fsynced so the rename
 * itself survives a power cut. Resolves, to the bytes written, once all of it
 * is on disk.
 */
export async function writeFileAtomically(
  target: string,
  content: string | Iterable<string>,
): Promise<number> {
  const temp = tempPathFor(target);
  let bytes = 0;
  try {
    const handle = await open(temp, 'wx', PRIVATE_FILE_MODE);
    try {
      let pending = '';
      // writeFile on a handle writes all of it on from where the last write ended.
      const write = async () => {
        await handle.writeFile(pending, 'utf8');
        bytes += Buffer.byteLength(pending);
        pending = '';
      };
      for (const piece of typeof content === 'string' ? [content] : content) {
        pending += piece;
        if (pending.length >= WRITE_CHARS) await write();
      }
      if (pending.length > 0) await write();
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncFolder(dirname(target));
  return bytes;
}

/**
 * Removes the temp files {@link writeFileAtomically} left in `folders` when
 * its process died mid-write (SIGKILL, out of memory): a crash during a
 * journal fold leaves a copy of the whole checkpoint, which nothing else
 * would ever delete. Only those whose writer is known gone: written in this
 * pid space by a pid no process has now. Best effort, so garbage never stops
 * a store from opening.
 */
export async function removeOrphanedTemps(...folders: string[]): Promise<void> {
  for (const folder of folders) {
    const names = await readdir(folder).catch((): string[] => []);
    await Promise.all(
      names.map(async (name) => {
        const [, space, pid] = TEMP_NAME.exec(name) ?? [];
        if (space === PID_SPACE && !isAlive(Number(pid))) {
          await rm(join(folder, name), { force: true }).catch(() => undefined);
        }
      }),
    );
  }
}

/** Makes the folder's entries (a new or renamed file's name) durable. */
export async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Serializes work per key within this process (read-compare-write on one file). */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.tails.set(key, settled);
    void settled.then(() => {
      if (this.tails.get(key) === settled) this.tails.delete(key);
    });
    return next;
  }
}

/** The error says the file or folder is not there. */
export const isMissing = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT';

/** The file's text, or `undefined` when there is none; `failure` words any other error. */
export async function readTextIfAny(
  path: string,
  failure: (error: unknown) => Error,
): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw failure(error);
  }
}

/** The names in `folder` that end with `suffix`; none when the folder does not exist. */
export async function namesIn(
  folder: string,
  suffix: string,
  failure: (error: unknown) => Error,
): Promise<string[]> {
  try {
    return (await readdir(folder)).filter((name) => name.endsWith(suffix));
  } catch (error) {
    if (isMissing(error)) return [];
    throw failure(error);
  }
}
