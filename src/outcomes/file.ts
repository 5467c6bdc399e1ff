/**
 * Outcomes in files beside the file checkpoint store's:
 * `<dir>/outcomes/<hash of run>/`, owner-only, holding `run.json` (the run's
 * id, for listing: ids may be longer than a file name may) and one segment
 * per writing process, `<host>-<pid>-<random>.jsonl`.
 *
 * Writes are append-only, so a run costs about its outcomes' bytes on disk:
 * a line `{"seq","ms","success","outcome"}` per put (`success` repeats the
 * outcome's, so an index reads a line's head, not its outcome; lines of
 * earlier builds lack it and are parsed whole), appended to this process's
 * segment. Puts of one run are serialized inside the process and those that
 * wait together go out as one write and one fdatasync (a group commit); a
 * put resolves once its line is on disk. Only this process ever writes its
 * segment, so lines never interleave; after a failed write it starts a new
 * segment, so a line torn by a crash or a full disk is only ever a
 * segment's last, which readers skip.
 *
 * Which put of a (run, seq) is "last": the one with the greatest write stamp
 * `ms` (wall-clock milliseconds, never going back within a segment), then
 * the greater segment name, then the later place in its segment. A second
 * put of one place comes from a retried activity, which starts at least its
 * retry interval after the first attempt's put, far more than the clocks of
 * a fleet's hosts differ by.
 *
 * What a reader holds: an index of each of the last runs it read (at most
 * {@link INDEXED_RUNS}, so readers of a few runs at once never rebuild each
 * other's on every page), five typed arrays by seq (segment, offset, length,
 * stamp, failed): about 25 bytes per place, up to twice that while the
 * arrays grow by doubling (3.3 MB for 100,000 outcomes, measured in
 * test/outcomes); never the outcomes themselves, which a page reads by
 * offset. The index goes on from where it last read each segment
 * (segments only grow), so paging through a run reads each line about once.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type FileHandle, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { type StepOutcome, StepOutcomeSchema } from '../contracts';
import { PRIVATE_FILE_MODE, ensurePrivateDirs } from '../local/private-files';
import { KeyedLock, isMissing, namesIn, readTextIfAny, syncFolder } from '../stores/atomic-file';
import type { OutcomePage, OutcomeRun, OutcomeStore, SeqOutcome } from './outcome-store';
import { checkedPut, pageBounds } from './outcome-store';

const SEGMENT = '.jsonl';
const RUN_FILE = 'run.json';
/** Runs whose index a reader keeps. */
const INDEXED_RUNS = 4;
/** A segment is scanned this much at a time. */
const SCAN_BYTES = 1 << 20;

/** The puts of one run that wait for the same write. */
interface Batch {
  lines: string[];
  written: Promise<void>;
}

export class FileOutcomeStore implements OutcomeStore {
  readonly location: string;
  private readonly folder: string;
  /** Names of this process's segments: a host name made safe for a file name, the pid. */
  private readonly writer = `${hostname().replace(/[^\w.-]/g, '_')}-${process.pid}`;
  /** This process's current segment of each run it wrote to. */
  private readonly segments = new Map<string, string>();
  private readonly batches = new Map<string, Batch>();
  private lastMs = 0;
  private readonly appends = new KeyedLock();
  private readonly reads = new KeyedLock();
  /** By run folder, the least recently read first. */
  private readonly indexes = new Map<string, RunIndex>();

  constructor(dir: string) {
    this.location = `file:${dir}`;
    this.folder = join(dir, 'outcomes');
  }

  async put(run: string, seq: number, outcome: StepOutcome): Promise<void> {
    const checked = checkedPut(run, seq, outcome);
    // Never back within the process, so a segment's stamps follow its lines.
    this.lastMs = Math.max(Date.now(), this.lastMs);
    const line = `${JSON.stringify({ seq, ms: this.lastMs, success: checked.success, outcome: checked })}\n`;
    let batch = this.batches.get(run);
    if (!batch) {
      const lines: string[] = [];
      const written = this.appends.run(run, () => {
        // From here on, puts join the next batch.
        this.batches.delete(run);
        return this.append(run, lines.join(''));
      });
      batch = { lines, written };
      this.batches.set(run, batch);
    }
    batch.lines.push(line);
    await batch.written;
  }

  private async append(run: string, text: string): Promise<void> {
    const folder = this.runFolder(run);
    let segment = this.segments.get(run);
    const fresh = segment === undefined;
    segment ??= `${this.writer}-${randomBytes(4).toString('hex')}${SEGMENT}`;
    try {
      if (fresh) await this.ensureRunFolder(run);
      const handle = await open(join(folder, segment), 'a', PRIVATE_FILE_MODE);
      try {
        await handle.appendFile(text);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      // A new file's name is durable only once its folder is synced.
      if (fresh) await syncFolder(folder);
      this.segments.set(run, segment);
    } catch (error) {
      // A write that failed may have left part of a line: the next one starts a segment of its own.
      this.segments.delete(run);
      throw ioError('cannot write to', folder, error);
    }
  }

  /** The run's folder and its `run.json`, written before any segment so every listed folder can be named. */
  private async ensureRunFolder(run: string): Promise<void> {
    const folder = this.runFolder(run);
    await ensurePrivateDirs(this.folder, folder);
    await writeFile(join(folder, RUN_FILE), JSON.stringify({ run }), {
      flag: 'wx',
      mode: PRIVATE_FILE_MODE,
    }).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    });
    await syncFolder(this.folder);
  }

  async list(run: string, page: OutcomePage): Promise<SeqOutcome[]> {
    const { after, limit, failedOnly } = pageBounds(page);
    const folder = this.runFolder(run);
    return this.reads.run('index', async () => {
      const index = this.indexes.get(folder) ?? new RunIndex(folder);
      // Now the most recently read.
      this.indexes.delete(folder);
      this.indexes.set(folder, index);
      for (const oldest of this.indexes.keys()) {
        if (this.indexes.size <= INDEXED_RUNS) break;
        this.indexes.delete(oldest);
      }
      try {
        await index.refresh();
        const found: SeqOutcome[] = [];
        const handles = new Map<number, FileHandle>();
        try {
          for (const seq of index.placesAfter(after, failedOnly)) {
            if (found.length === limit) break;
            const { segment, offset, length } = index.at(seq);
            const handle = handles.get(segment) ?? (await open(join(folder, index.names[segment]!), 'r'));
            handles.set(segment, handle);
            const { buffer } = await handle.read(Buffer.alloc(length), 0, length, offset);
            const { outcome } = JSON.parse(buffer.toString('utf8')) as { outcome: unknown };
            found.push({ seq, outcome: StepOutcomeSchema.parse(outcome) });
          }
        } finally {
          await Promise.all([...handles.values()].map((handle) => handle.close()));
        }
        return found;
      } catch (error) {
        // Whatever went wrong (a gc between the scan and the read), the next page starts from the files.
        this.indexes.delete(folder);
        throw isMissing(error) || error instanceof SyntaxError
          ? ioError('cannot read', folder, error)
          : error;
      }
    });
  }

  async runs(): Promise<OutcomeRun[]> {
    const names = await namesIn(this.folder, '', (error) => ioError('cannot list', this.folder, error));
    const runs: OutcomeRun[] = [];
    // One run at a time: a store of many runs would otherwise open all their files at once.
    for (const name of names) {
      const run = await this.runIn(join(this.folder, name));
      if (run) runs.push(run);
    }
    return runs;
  }

  /** The run a folder holds; `undefined` when it names none (not TAO's, removed meanwhile, or torn by a power cut). */
  private async runIn(folder: string): Promise<OutcomeRun | undefined> {
    const failure = (error: unknown) => ioError('cannot read', folder, error);
    const text = await readTextIfAny(join(folder, RUN_FILE), failure);
    const run = runNamed(text);
    if (run === undefined) return undefined;
    let bytes = 0;
    let writtenMs = 0;
    for (const name of await readdir(folder).catch((): string[] => [])) {
      const stats = await stat(join(folder, name)).catch(() => undefined);
      if (!stats) continue;
      bytes += stats.size;
      writtenMs = Math.max(writtenMs, stats.mtimeMs);
    }
    return { run, bytes, writtenMs };
  }

  async delete(run: string, writtenBeforeMs = Infinity): Promise<boolean> {
    const folder = this.runFolder(run);
    const held = await this.runIn(folder);
    if (!held || held.writtenMs >= writtenBeforeMs) return false;
    // The next put of the run makes its folder again.
    this.segments.delete(run);
    await this.reads.run('index', async () => {
      this.indexes.delete(folder);
      await rm(folder, { recursive: true, force: true });
    });
    return true;
  }

  private runFolder(run: string): string {
    return join(this.folder, createHash('sha256').update(run).digest('hex').slice(0, 32));
  }
}

/**
 * Where the last put of each place of one run is, from its segments' lines
 * (see the module comment for "last" and for what it holds).
 */
class RunIndex {
  /** Segment names; an entry's segment is its place here. */
  readonly names: string[] = [];
  /** Per segment: the offset after its last whole line read. */
  private readonly scanned: number[] = [];
  /** By seq: segment + 1 (0: no outcome), offset, line length, stamp, whether the step failed. */
  private segment!: Uint32Array;
  private offset!: Float64Array;
  private length!: Uint32Array;
  private ms!: Float64Array;
  private failed!: Uint8Array;
  /** One past the greatest seq seen. */
  private end!: number;

  constructor(readonly folder: string) {
    this.clear();
  }

  /** Reads what was appended since the last refresh; starts over when a segment shrank or went (a gc). */
  async refresh(): Promise<void> {
    const names = await namesIn(this.folder, SEGMENT, (error) => error as Error);
    const sizes = await Promise.all(names.map((name) => stat(join(this.folder, name)).then((s) => s.size)));
    const shrank = this.names.some((name, i) => (sizes[names.indexOf(name)] ?? -1) < this.scanned[i]!);
    if (shrank) this.clear();
    for (const [i, name] of names.entries()) {
      let segment = this.names.indexOf(name);
      if (segment < 0) {
        segment = this.names.push(name) - 1;
        this.scanned.push(0);
      }
      if (sizes[i]! > this.scanned[segment]!) await this.scan(segment);
    }
  }

  private clear(): void {
    this.names.length = 0;
    this.scanned.length = 0;
    this.segment = new Uint32Array(0);
    this.offset = new Float64Array(0);
    this.length = new Uint32Array(0);
    this.ms = new Float64Array(0);
    this.failed = new Uint8Array(0);
    this.end = 0;
  }

  /** Indexes the segment's whole lines from where it was last read; a torn last line waits, unread. */
  private async scan(segment: number): Promise<void> {
    const handle = await open(join(this.folder, this.names[segment]!), 'r');
    try {
      let start = this.scanned[segment]!;
      let carry = Buffer.alloc(0);
      for (;;) {
        const chunk = Buffer.alloc(SCAN_BYTES);
        const { bytesRead } = await handle.read(chunk, 0, SCAN_BYTES, start + carry.length);
        if (bytesRead === 0) break;
        const bytes = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk;
        const filled = carry.length + bytesRead;
        let from = 0;
        for (let newline = bytes.indexOf(10, from); newline >= 0 && newline < filled;) {
          this.add(segment, start + from, bytes.subarray(from, newline + 1));
          from = newline + 1;
          newline = bytes.indexOf(10, from);
        }
        start += from;
        carry = Buffer.from(bytes.subarray(from, filled));
      }
      this.scanned[segment] = start;
    } finally {
      await handle.close();
    }
  }

  private add(segment: number, offset: number, line: Buffer): void {
    const parsed = lineHead(line);
    if (!parsed) return;
    const { seq: place, ms } = parsed;
    this.grow(place + 1);
    const held = this.segment[place]! - 1;
    if (held >= 0) {
      const older =
        ms < this.ms[place]! ||
        (ms === this.ms[place] &&
          (this.names[segment]! < this.names[held]! || (segment === held && offset < this.offset[place]!)));
      if (older) return;
    }
    this.segment[place] = segment + 1;
    this.offset[place] = offset;
    this.length[place] = line.length;
    this.ms[place] = ms;
    this.failed[place] = parsed.success ? 0 : 1;
    this.end = Math.max(this.end, place + 1);
  }

  private grow(size: number): void {
    if (size <= this.segment.length) return;
    const capacity = Math.max(size, this.segment.length * 2, 1024);
    const grown = <A extends Uint32Array | Float64Array | Uint8Array>(old: A, make: new (n: number) => A) => {
      const array = new make(capacity);
      array.set(old);
      return array;
    };
    this.segment = grown(this.segment, Uint32Array);
    this.offset = grown(this.offset, Float64Array);
    this.length = grown(this.length, Uint32Array);
    this.ms = grown(this.ms, Float64Array);
    this.failed = grown(this.failed, Uint8Array);
  }

  /** Places with an outcome after `after`, ascending. */
  *placesAfter(after: number, failedOnly: boolean): Generator<number> {
    for (let seq = Math.max(0, after + 1); seq < this.end; seq++) {
      if (this.segment[seq] !== 0 && (!failedOnly || this.failed[seq] === 1)) yield seq;
    }
  }

  at(seq: number): { segment: number; offset: number; length: number } {
    return { segment: this.segment[seq]! - 1, offset: this.offset[seq]!, length: this.length[seq]! };
  }
}

/** The head of a line as {@link FileOutcomeStore.put} writes it: its outcome is the rest, left unparsed. */
const HEAD = /^\{"seq":(\d{1,15}),"ms":(\d{1,16}),"success":(true|false),"outcome":\{/;
/** Enough of a line for {@link HEAD}. */
const HEAD_BYTES = 80;

/**
 * Where a line belongs and whether its step succeeded. Parsing 100,000 lines
 * of 2 KB whole took 1.4 s, most of a cold index; the head alone is a match
 * of its first bytes. A line without that head (an earlier build's) is
 * parsed whole.
 */
function lineHead(line: Buffer): { seq: number; ms: number; success: boolean } | undefined {
  const head = HEAD.exec(line.toString('latin1', 0, Math.min(line.length, HEAD_BYTES)));
  if (head) return { seq: Number(head[1]), ms: Number(head[2]), success: head[3] === 'true' };
  let parsed: { seq?: unknown; ms?: unknown; outcome?: { success?: unknown } };
  try {
    parsed = JSON.parse(line.toString('utf8')) as typeof parsed;
  } catch {
    // Only a crash tears a line, and only a segment's last: its put never resolved, so its step is retried.
    return undefined;
  }
  const { seq, ms } = parsed;
  if (!Number.isSafeInteger(seq) || typeof ms !== 'number') return undefined;
  return { seq: seq as number, ms, success: parsed.outcome?.success === true };
}

/** The id in a `run.json`'s text, if it holds one. */
function runNamed(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    const { run } = JSON.parse(text) as { run?: unknown };
    return typeof run === 'string' ? run : undefined;
  } catch {
    return undefined;
  }
}

function ioError(action: string, folder: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  return new Error(
    `file outcome store ${action} ${folder} (${code}); fix its permissions or choose another folder with --store file:<dir>`,
  );
}
