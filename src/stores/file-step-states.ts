/**
 * The file store's step states: one file per running agent step,
 * `<dir>/step_states/<sha256 of the key, 32 hex digits>.jsonl`, owner-only,
 * replaced atomically on every save (see ./atomic-file). Two JSON lines: a
 * header (the key and the record's fields but the state), then the state.
 * A save compares with the header held; this process remembers the headers
 * it wrote and read (a folder has one worker process), so a save in a step's
 * run of turns reads nothing.
 */
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ensurePrivateDirs } from '../local/private-files';
import { KeyedLock, namesIn, readTextIfAny, writeFileAtomically } from './atomic-file';
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

/** Files whose header this process remembers; a forgotten one is read again on its next save. */
const HEADERS_KEPT = 1_000;

export class FileStepStates {
  readonly folder: string;
  private readonly lock = new KeyedLock();
  /** By file path; an entry with no header is a file known to be absent. */
  private readonly headers = new Map<string, Header | undefined>();
  /** The folders exist and are owner-only; made once, and again after a write fails. */
  private ready?: Promise<void>;

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
      const held = this.headers.has(path)
        ? this.headers.get(path)
        : // An unreadable record is only ever a crashed step's state: the save replaces it.
          await this.read(path).then(
            (stored) => stored?.header,
            () => undefined,
          );
      if (isOlderStepState(held, record)) return 'stale';
      const { state, ...fields } = record;
      const header: Header = { key, ...fields };
      try {
        await (this.ready ??= ensurePrivateDirs(this.dir, this.folder));
        await writeFileAtomically(path, `${JSON.stringify(header)}\n${JSON.stringify(state)}\n`);
      } catch (error) {
        this.ready = undefined;
        this.headers.delete(path);
        throw this.ioError('cannot write to', error);
      }
      this.remember(path, header);
      return 'saved';
    });
  }

  async load(key: string): Promise<StepStateRecord | undefined> {
    const path = this.pathOf(key);
    const stored = await this.lock.run(path, async () => {
      const read = await this.read(path);
      this.remember(path, read?.header);
      return read;
    });
    if (!stored || stored.header.key !== key) return undefined;
    const { attempt, attemptScheduledMs, seq, savedMs } = stored.header;
    return { attempt, attemptScheduledMs, seq, savedMs, state: parseJson(stored.stateText, path) };
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    await this.lock.run(path, async () => {
      this.headers.delete(path);
      await rm(path, { force: true });
    });
  }

  private remember(path: string, header: Header | undefined): void {
    this.headers.delete(path);
    this.headers.set(path, header);
    if (this.headers.size > HEADERS_KEPT) this.headers.delete(this.headers.keys().next().value!);
  }

  async list(): Promise<StepStateSummary[]> {
    const names = await namesIn(this.folder, '.jsonl', (error) => this.ioError('cannot list', error));
    const summaries: StepStateSummary[] = [];
    for (const name of names) {
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
    const text = await readTextIfAny(
      path,
      (error) => new CheckpointUnreadableError(this.ioError('cannot read', error).message),
    );
    if (text === undefined) return undefined;
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
