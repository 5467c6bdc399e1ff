/**
 * Every put a file outcome store (src/outcomes/file.ts) ever took, read from
 * its segments as they grow: a reader of the store (`results()`) sees one
 * outcome per place, the last put, but the segments keep every line
 * appended, so a step whose activity ran twice shows as two puts of its seq.
 * Each line carries the put's wall-clock stamp `ms` (taken as the put began,
 * before its write and fdatasync), and each segment is named after the one
 * process that appends to it (`<host>-<pid>-<random>.jsonl`), so a put says
 * which worker process made it and when.
 *
 * Read a whole line at a time from where the last poll stopped, so a run's
 * segments are read once however often they are polled; a line torn by a
 * SIGKILL (only ever a segment's last) is never whole and never counted, as
 * the store's own readers skip it.
 */
import { closeSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface Put {
  seq: number;
  /** The put's stamp: wall-clock ms, the same clock as this process's `Date.now()` on one machine. */
  ms: number;
  /** The worker process whose segment holds it. */
  pid: number;
}

const SEGMENT = /-(\d+)-[0-9a-f]+\.jsonl$/;
/** Read at most this much of a segment at once: many lines of 2 KB outputs. */
const CHUNK = 16 << 20;

export class OutcomePuts {
  readonly puts: Put[] = [];
  /** Places with at least one put. */
  private readonly seen = new Set<number>();
  /** Per segment path: bytes of whole lines read so far. */
  private readonly read = new Map<string, number>();

  /** `store` is the directory of a `file:<dir>` store holding one run. */
  constructor(private readonly store: string) {}

  /** Steps with an outcome put so far (each counted once, however often it was put). */
  get settled(): number {
    return this.seen.size;
  }

  /** Reads the lines appended since the last poll. */
  poll(): void {
    const outcomes = join(this.store, 'outcomes');
    let runs: string[];
    try {
      runs = readdirSync(outcomes);
    } catch {
      return; // no put yet
    }
    for (const run of runs) {
      for (const name of readdirSync(join(outcomes, run))) {
        const pid = SEGMENT.exec(name)?.[1];
        if (pid !== undefined) this.readSegment(join(outcomes, run, name), Number(pid));
      }
    }
  }

  private readSegment(path: string, pid: number): void {
    const size = statSync(path).size;
    const fd = openSync(path, 'r');
    try {
      for (let from = this.read.get(path) ?? 0; from < size;) {
        const bytes = Buffer.alloc(Math.min(size - from, CHUNK));
        readSync(fd, bytes, 0, bytes.length, from);
        let start = 0;
        for (let newline = bytes.indexOf(10); newline >= 0; newline = bytes.indexOf(10, start)) {
          const { seq, ms } = JSON.parse(bytes.toString('utf8', start, newline)) as Put;
          this.puts.push({ seq, ms, pid });
          this.seen.add(seq);
          start = newline + 1;
        }
        if (start === 0) break; // a line still being written, or torn
        from += start;
        this.read.set(path, from);
      }
    } finally {
      closeSync(fd);
    }
  }
}
