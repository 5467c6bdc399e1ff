/**
 * The file store's step states: one file per running agent step,
 * `<dir>/step_states/<sha256 of the key, 32 hex digits>.jsonl`, owner-only,
 * replaced atomically on every save (see ./atomic-file). Two JSON lines: a
 * header (the key and the record's fields but the state), then the state, so
 * a save compares against what is held by parsing the header alone.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ensurePrivateDirs } from '../local/private-files';
import { KeyedLock, writeFileAtomically } from './atomic-file';
import {
  CheckpointUnreadableError,
  type SaveResult,
  type StepStateRecord,
  type StepStateSummary,
  checkStepStateKey,
  isOlderStepState,
  stepStateSummary,
} from './session-store';

const HeaderSchema = z.object({
  key: z.string(),
  attempt: z.number().int(),
  attemptScheduledMs: z.number(),
  seq: z.number().int(),
  savedMs: z.number(),
});
type Header = z.infer<typeof HeaderSchema>;

interface StoredState {
  header: Header;
  /** The state's line, still JSON text. */
  stateText: string;
}

export class FileStepStates {
  readonly folder: string;
  private readonly lock = new KeyedLock();

  constructor(
    private readonly dir: string,
    private readonly ioError: (action: string, error: unknown) => Error,
  ) {
    this.folder = join(dir, 'step_states');
  }

  private pathOf(key: string): string {
    const name = createHash('sha256').update(checkStepStateKey(key)).digest('hex').slice(0, 32);
    return join(this.folder, `${name}.jsonl`);
  }

  async save(key: string, record: StepStateRecord): Promise<SaveResult> {
    const path = this.pathOf(key);
    return this.lock.run(path, async () => {
      // An unreadable record is only ever a crashed step's state: the save replaces it.
      const held = await this.read(path).catch(() => undefined);
      if (isOlderStepState(held?.header, record)) return 'stale';
      const { state, ...fields } = record;
      const header: Header = { key, ...fields };
      try {
        await ensurePrivateDirs(this.dir, this.folder);
        await writeFileAtomically(path, `${JSON.stringify(header)}\n${JSON.stringify(state)}\n`);
      } catch (error) {
        throw this.ioError('cannot write to', error);
      }
      return 'saved';
    });
  }

  async load(key: string): Promise<StepStateRecord | undefined> {
    const path = this.pathOf(key);
    const stored = await this.lock.run(path, () => this.read(path));
    if (!stored || stored.header.key !== key) return undefined;
    const { attempt, attemptScheduledMs, seq, savedMs } = stored.header;
    return { attempt, attemptScheduledMs, seq, savedMs, state: parseJson(stored.stateText, path) };
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    await this.lock.run(path, () => rm(path, { force: true }));
  }

  async list(): Promise<StepStateSummary[]> {
    let names: string[];
    try {
      names = await readdir(this.folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw this.ioError('cannot list', error);
    }
    const summaries: StepStateSummary[] = [];
    for (const name of names.filter((n) => n.endsWith('.jsonl'))) {
      const path = join(this.folder, name);
      try {
        const stored = await this.read(path);
        if (stored)
          summaries.push(
            stepStateSummary(stored.header.key, stored.header, Buffer.byteLength(stored.stateText)),
          );
      } catch (error) {
        summaries.push({
          key: path,
          attempt: 0,
          seq: 0,
          savedMs: 0,
          bytes: 0,
          unreadable: (error as Error).message,
        });
      }
    }
    return summaries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  private async read(path: string): Promise<StoredState | undefined> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new CheckpointUnreadableError(this.ioError('cannot read', error).message);
    }
    const newline = text.indexOf('\n');
    const header = HeaderSchema.safeParse(newline < 0 ? undefined : parseJson(text.slice(0, newline), path));
    if (!header.success) throw new CheckpointUnreadableError(`step state ${path} has no valid header`);
    return { header: header.data, stateText: text.slice(newline + 1).trimEnd() };
  }
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CheckpointUnreadableError(`step state ${path} is not JSON: ${(error as Error).message}`);
  }
}
