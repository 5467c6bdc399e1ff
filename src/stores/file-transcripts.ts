/**
 * The file store's transcripts: one JSON-lines file per step,
 * `<dir>/transcripts/<hash of workflow id>/<hash of task id>.jsonl`,
 * owner-only. a3s does not read this folder. The names are hashes (ids may be
 * longer than a file name may), so beside each step's file a `.key` file
 * holds its ids as JSON for listing; it is written before the step's first
 * event, so every step's file that a listing finds can be named.
 *
 * Numbering across processes without a lock: each append is one write to a
 * file opened for appending, which the kernel places whole at the end, so
 * writers on one host (a killed attempt's worker still flushing, its retry)
 * never interleave; an event's `seq` is its place among the file's complete
 * lines. A line a crash tore stays one line of its own (the next writer starts
 * on a fresh line) and is skipped without taking a number. Appends are not
 * fsynced: a transcript is for reading a step, and a power cut may lose its
 * last events, never the ones before. The step's byte limit is checked
 * against the file's size as a writer finds it, so writers racing past it
 * overshoot by at most their own batches.
 */
import { createHash } from 'node:crypto';
import { open, readFile, readdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PRIVATE_FILE_MODE, ensurePrivateDirs } from '../local/private-files';
import { isMissing, readTextIfAny } from './atomic-file';
import {
  type Transcript,
  type TranscriptKey,
  type TranscriptStore,
  type TranscriptSummary,
  type UnnumberedEvent,
  checkTranscriptKey,
  keepWithinStepLimit,
  eventsAfter,
} from '../transcripts/events';

const hashed = (id: string) => createHash('sha256').update(id).digest('hex').slice(0, 32);

export class FileTranscripts implements TranscriptStore {
  readonly folder: string;

  constructor(
    private readonly dir: string,
    private readonly ioError: (action: string, error: unknown) => Error,
  ) {
    this.folder = join(dir, 'transcripts');
  }

  private workflowFolder(workflowId: string): string {
    return join(this.folder, hashed(workflowId));
  }

  private pathOf({ workflowId, taskId }: TranscriptKey): string {
    return join(this.workflowFolder(workflowId), `${hashed(taskId)}${EVENTS}`);
  }

  async appendTranscript(key: TranscriptKey, events: readonly UnnumberedEvent[]): Promise<number> {
    const path = this.pathOf(checkTranscriptKey(key));
    try {
      await ensurePrivateDirs(this.dir, this.folder, this.workflowFolder(key.workflowId));
      // Before the events, so no step's file is ever without it; one that exists is left as it is.
      await writeFile(keyPathOf(path), JSON.stringify(key), { flag: 'wx', mode: PRIVATE_FILE_MODE }).catch(
        (error: unknown) => {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        },
      );
      const handle = await open(path, 'a+', PRIVATE_FILE_MODE);
      try {
        const { size } = await handle.stat();
        const { kept, dropped } = keepWithinStepLimit(size, events);
        if (kept.length === 0) return dropped;
        const last = Buffer.alloc(1);
        if (size > 0) await handle.read(last, 0, 1, size - 1);
        // After a torn line, start a fresh one so the torn one never swallows these.
        const fresh = size > 0 && last.toString() !== '\n' ? '\n' : '';
        await handle.appendFile(`${fresh}${kept.map(({ json }) => `${json}\n`).join('')}`);
        return dropped;
      } finally {
        await handle.close();
      }
    } catch (error) {
      throw this.ioError('cannot write to', error);
    }
  }

  async readTranscript(key: TranscriptKey, afterSeq = 0): Promise<Transcript | undefined> {
    const text = await readTextIfAny(this.pathOf(checkTranscriptKey(key)), (error) =>
      this.ioError('cannot read', error),
    );
    if (text === undefined) return undefined;
    // The text after the last newline is a line still being written, or torn.
    const lines = text.split('\n').slice(0, -1).filter(isJson);
    return { ...key, events: eventsAfter(lines, afterSeq), lastSeq: lines.length };
  }

  async deleteTranscripts(workflowId: string, taskId?: string): Promise<number> {
    if (taskId !== undefined) {
      const path = this.pathOf(checkTranscriptKey({ workflowId, taskId }));
      const held = await exists(path);
      await this.remove(path);
      await this.remove(keyPathOf(path));
      // Its workflow's folder goes with its last step; one a writer just filled again stays.
      await rmdir(this.workflowFolder(workflowId)).catch(() => undefined);
      return held ? 1 : 0;
    }
    const folder = this.workflowFolder(workflowId);
    const steps = (await readdir(folder).catch(() => [])).filter((name) => name.endsWith(EVENTS)).length;
    await this.remove(folder);
    return steps;
  }

  /** A step's file whose `.key` file cannot be read (not TAO's) is left out: it cannot be named. */
  async listTranscripts(): Promise<TranscriptSummary[]> {
    const listed: TranscriptSummary[] = [];
    try {
      for (const workflow of await readdir(this.folder).catch(ignoreMissing)) {
        const folder = join(this.folder, workflow);
        for (const name of await readdir(folder).catch(ignoreMissing)) {
          if (!name.endsWith(EVENTS)) continue;
          const path = join(folder, name);
          // Removed since the folder was read: nothing to list.
          const [file, key] = await Promise.all([
            stat(path).catch(() => undefined),
            readKey(keyPathOf(path)),
          ]);
          if (file && key) listed.push({ ...key, lastEventMs: file.mtimeMs, bytes: file.size });
        }
      }
    } catch (error) {
      throw this.ioError('cannot read', error);
    }
    return listed;
  }

  private async remove(path: string): Promise<void> {
    try {
      await rm(path, { recursive: true, force: true });
    } catch (error) {
      throw this.ioError('cannot remove from', error);
    }
  }
}

const EVENTS = '.jsonl';
const keyPathOf = (eventsPath: string) => `${eventsPath.slice(0, -EVENTS.length)}.key`;

/** A folder or file removed while being listed holds nothing; any other failure is the caller's to report. */
function ignoreMissing(error: unknown): string[] {
  if (isMissing(error)) return [];
  throw error;
}

/** The ids a `.key` file holds; `undefined` when it cannot be read (gone, or not such a file). */
async function readKey(path: string): Promise<TranscriptKey | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<TranscriptKey>;
    const { workflowId, taskId } = parsed;
    return typeof workflowId === 'string' && typeof taskId === 'string' ? { workflowId, taskId } : undefined;
  } catch {
    return undefined;
  }
}

function isJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    (error: unknown) => {
      if (isMissing(error)) return false;
      throw error;
    },
  );
