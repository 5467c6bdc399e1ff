/**
 * The file store's transcripts: one JSON-lines file per step,
 * `<dir>/transcripts/<hash of workflow id>/<hash of task id>.jsonl`,
 * owner-only. a3s does not read this folder. The names are hashes (ids may be
 * longer than a file name may), so beside each step's file a `.key` file
 * holds its ids as JSON for listing. It is written before the step's first
 * event and removed before its events, so every step's file a listing finds
 * can be named (a crash between may leave ids with no events: a few bytes,
 * which the step's next append uses again).
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
import { open, readdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PRIVATE_FILE_MODE, ensurePrivateDirs } from '../local/private-files';
import { isMissing, namesIn, readTextIfAny } from './atomic-file';
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
      // Its ids first: a writer racing the removal leaves at worst ids with no events, never events no listing names.
      await this.remove(keyPathOf(path));
      await this.remove(path);
      // Its workflow's folder goes with its last step; one a writer just filled again stays.
      await rmdir(this.workflowFolder(workflowId)).catch(() => undefined);
      return held ? 1 : 0;
    }
    const folder = this.workflowFolder(workflowId);
    const steps = (await readdir(folder).catch(() => [])).filter((name) => name.endsWith(EVENTS)).length;
    await this.remove(folder);
    return steps;
  }

  /** A step's file without a `.key` file that holds its ids (not TAO's) is left out: it cannot be named. */
  async listTranscripts(): Promise<TranscriptSummary[]> {
    const failure = (error: unknown) => this.ioError('cannot read', error);
    const listed: TranscriptSummary[] = [];
    for (const workflow of await namesIn(this.folder, '', failure)) {
      const folder = join(this.folder, workflow);
      for (const name of await namesIn(folder, EVENTS, failure)) {
        const path = join(folder, name);
        const [file, key] = await Promise.all([
          // Removed since the folder was read: nothing to list.
          stat(path).catch(() => undefined),
          readTextIfAny(keyPathOf(path), failure).then(parseKey),
        ]);
        if (file && key) listed.push({ ...key, lastEventMs: file.mtimeMs, bytes: file.size });
      }
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

/** The ids a `.key` file's text holds; `undefined` for none, or text that is not such a file's. */
function parseKey(text: string | undefined): TranscriptKey | undefined {
  try {
    const { workflowId, taskId } = JSON.parse(text ?? '') as Partial<TranscriptKey>;
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
