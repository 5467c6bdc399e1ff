/**
 * The directory an agent's tools may touch. Every path a model names goes
 * through {@link Workspace.resolve}: absolute paths and `..` segments are
 * refused outright, and the real path (symlinks followed) must still lie
 * inside the root, so a link pointing out of the workspace is refused too.
 */
import type { Dirent } from 'node:fs';
import { lstat, readdir, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';

/** A model asked for a path outside the workspace; the message goes back to it as the tool result. */
export class PathEscapeError extends Error {
  override readonly name = 'PathEscapeError';
}

/** Never worth a model's attention, and large enough to drown a search. */
const SKIPPED_DIRS = new Set(['.git', 'node_modules']);

export class Workspace {
  private constructor(readonly root: string) {}

  /** Opens a workspace at `dir`, which must exist; its real path becomes the root. */
  static async open(dir: string): Promise<Workspace> {
    return new Workspace(await realpath(dir));
  }

  /**
   * The absolute path for `path` (relative to the root). For a path that does
   * not exist yet (a file about to be written), its nearest existing ancestor
   * is checked instead.
   */
  async resolve(path: string): Promise<string> {
    if (path.includes('\0')) throw new PathEscapeError('path contains a NUL byte');
    if (isAbsolute(path) || /^[A-Za-z]:/.test(path) || path.startsWith('\\')) {
      throw new PathEscapeError(
        `absolute path "${path}" refused: give a path relative to the workspace root`,
      );
    }
    if (path.split(/[\\/]+/).includes('..')) {
      throw new PathEscapeError(`path "${path}" refused: ".." may not appear in a workspace path`);
    }
    const target = join(this.root, path);
    const real = await realpathOfExisting(target);
    if (real === undefined) {
      // Its target does not exist, and a write would create it wherever the link points.
      throw new PathEscapeError(`path "${path}" refused: it is a dangling symbolic link`);
    }
    this.assertInside(real, path);
    return target;
  }

  /** The path relative to the root, for tool output; `.` for the root itself. */
  display(absolute: string): string {
    return relative(this.root, absolute) || '.';
  }

  /**
   * Files under `dir` (absolute, already resolved), depth first, sorted.
   * Symbolic links are not followed: a walk stays inside the tree it started in.
   */
  async *walk(dir: string): AsyncGenerator<string> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // unreadable directory: nothing to offer
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && !SKIPPED_DIRS.has(entry.name)) yield* this.walk(path);
      else if (entry.isFile()) yield path;
    }
  }

  private assertInside(real: string, asked: string): void {
    if (real !== this.root && !real.startsWith(this.root + sep)) {
      throw new PathEscapeError(
        `path "${asked}" refused: it leads outside the workspace (via a symbolic link)`,
      );
    }
  }
}

/** The real path of `path`, or of its nearest existing ancestor plus the rest; undefined for a dangling link. */
async function realpathOfExisting(path: string): Promise<string | undefined> {
  try {
    return await realpath(path);
  } catch (error) {
    const parent = dirname(path);
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === path) throw error;
    if (
      await lstat(path).then(
        () => true,
        () => false,
      )
    )
      return undefined;
    const realParent = await realpathOfExisting(parent);
    return realParent === undefined ? undefined : join(realParent, relative(parent, path));
  }
}
