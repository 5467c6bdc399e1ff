/**
 * The file outcome store's own promises, past the contract: append-only
 * segments, one per writing process, owner-only; a torn last line skipped;
 * the last put of a place winning across processes; an index of the places
 * rather than the outcomes in memory, measured for 100,000 outcomes of 2 KB.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, createWriteStream, readFileSync, readdirSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { FileOutcomeStore } from '../../src/outcomes';
import type { StepOutcome } from '../../src/contracts';
import { echoed } from '../support/specs';
import { retainedBytes } from '../support/retained-memory';
import { useTempDir } from '../support/temp-dir';

const tempDir = useTempDir('tao-file-outcomes');

/** The run's folder (there is one) and its segments. */
function segmentsOf(dir: string): { folder: string; segments: string[] } {
  const [name] = readdirSync(join(dir, 'outcomes'));
  const folder = join(dir, 'outcomes', name!);
  return { folder, segments: readdirSync(folder).filter((file) => file.endsWith('.jsonl')) };
}

async function putFromProcess(dir: string, run: string, from: number, to: number, tag: string) {
  const child = spawn(
    process.execPath,
    [
      '--require',
      join(__dirname, '../support/swc-register.js'),
      join(__dirname, '../support/outcome-writer-main.ts'),
      dir,
      run,
      String(from),
      String(to),
      tag,
    ],
    { stdio: 'inherit' },
  );
  const [code] = (await once(child, 'exit')) as [number];
  expect(code).toBe(0);
}

async function all(store: FileOutcomeStore, run: string) {
  return store.list(run, { limit: 1_000_000 });
}

it('appends one line per put to a segment of its own, owner-only, and rewrites nothing', async () => {
  const store = new FileOutcomeStore(tempDir());
  await store.put('run-1', 0, echoed('t0', 'first'));
  const { folder, segments } = segmentsOf(tempDir());
  expect(segments).toHaveLength(1);
  const segment = join(folder, segments[0]!);
  const before = readFileSync(segment);
  await store.put('run-1', 1, echoed('t1', 'second'));
  await store.put('run-1', 0, echoed('t0', 'retried'));
  const after = readFileSync(segment);
  // What was there stays byte for byte: later puts only append.
  expect(after.subarray(0, before.length)).toEqual(before);
  expect(after.toString().trim().split('\n')).toHaveLength(3);
  expect(JSON.parse(before.toString())).toMatchObject({ seq: 0, outcome: echoed('t0', 'first') });
  // Its head says where it belongs and whether the step succeeded: an index never parses the outcome.
  expect(before.toString()).toMatch(/^\{"seq":0,"ms":\d+,"success":true,"outcome":\{"taskId":"t0",/);
  for (const path of [folder, join(tempDir(), 'outcomes')]) expect(statSync(path).mode & 0o777).toBe(0o700);
  for (const file of readdirSync(folder)) expect(statSync(join(folder, file)).mode & 0o777).toBe(0o600);
  expect((await all(store, 'run-1')).map((e) => e.outcome.output)).toEqual(['retried', 'second']);
});

it('puts that wait together share one write, in the order they were made', async () => {
  const store = new FileOutcomeStore(tempDir());
  await Promise.all(
    Array.from({ length: 200 }, (_, seq) => store.put('run-1', seq % 50, echoed(`t${seq}`, `${seq}`))),
  );
  // Each place's last put is the last made: 150..199.
  expect((await all(store, 'run-1')).map((e) => e.outcome.output)).toEqual(
    Array.from({ length: 50 }, (_, seq) => `${seq + 150}`),
  );
});

it('skips a torn last line, and a writer after the tear starts a segment of its own', async () => {
  const store = new FileOutcomeStore(tempDir());
  await store.put('run-1', 0, echoed('t0', 'whole'));
  const { folder, segments } = segmentsOf(tempDir());
  // A crash mid-write: half a line, no newline.
  appendFileSync(join(folder, segments[0]!), '{"seq":1,"ms":1,"outcome":{"taskId":"t1","ou');
  const reader = new FileOutcomeStore(tempDir());
  expect(await all(reader, 'run-1')).toEqual([{ seq: 0, outcome: echoed('t0', 'whole') }]);
  // The retried step's put, from a new process: its own segment, so the torn line stays the last of its own.
  const retry = new FileOutcomeStore(tempDir());
  await retry.put('run-1', 1, echoed('t1', 'retried'));
  expect(segmentsOf(tempDir()).segments).toHaveLength(2);
  expect((await all(reader, 'run-1')).map((e) => e.outcome.output)).toEqual(['whole', 'retried']);
});

it('merges the segments of two writing processes, the later put of a place winning', async () => {
  const dir = tempDir();
  await Promise.all([putFromProcess(dir, 'run-1', 0, 300, 'a'), putFromProcess(dir, 'run-1', 300, 600, 'b')]);
  // A retry of places 100..399 in a third process, after the first two.
  await putFromProcess(dir, 'run-1', 100, 400, 'retry');
  expect(segmentsOf(dir).segments).toHaveLength(3);
  const read = await all(new FileOutcomeStore(dir), 'run-1');
  expect(read.map((e) => e.seq)).toEqual(Array.from({ length: 600 }, (_, seq) => seq));
  const tag = (seq: number) => (seq >= 100 && seq < 400 ? 'retry' : seq < 300 ? 'a' : 'b');
  expect(read.map((e) => e.outcome.output)).toEqual(read.map((e) => `${tag(e.seq)} ${e.seq}`));
});

it('reads what was appended since the last page, and pages through failures', async () => {
  const writer = new FileOutcomeStore(tempDir());
  const reader = new FileOutcomeStore(tempDir());
  await writer.put('run-1', 0, echoed('t0', 'zero'));
  expect(await reader.list('run-1', { limit: 10 })).toHaveLength(1);
  await writer.put('run-1', 1, { ...echoed('t1', 'one'), success: false, error: 'boom' });
  expect((await reader.list('run-1', { limit: 10 })).map((e) => e.seq)).toEqual([0, 1]);
  expect((await reader.list('run-1', { limit: 10, failedOnly: true })).map((e) => e.seq)).toEqual([1]);
});

it('pages through several runs at once, each from where it was', async () => {
  const writer = new FileOutcomeStore(tempDir());
  const runs = ['a', 'b', 'c', 'd', 'e', 'f'];
  for (const run of runs) {
    await Promise.all(
      Array.from({ length: 30 }, (_, seq) => writer.put(run, seq, echoed(`${run}${seq}`, run))),
    );
  }
  const reader = new FileOutcomeStore(tempDir());
  const after = new Map<string, number>();
  // More runs than the reader keeps an index of, a page of each in turn.
  for (let page = 0; page < 3; page++) {
    for (const run of runs) {
      const found = await reader.list(run, { after: after.get(run) ?? -1, limit: 10 });
      expect(found.map((e) => [e.seq, e.outcome.taskId])).toEqual(
        Array.from({ length: 10 }, (_, i) => [page * 10 + i, `${run}${page * 10 + i}`]),
      );
      after.set(run, found[9]!.seq);
    }
  }
});

/** About 2 KB of outcome, as JSON. */
const outcomeOf = (seq: number): StepOutcome => ({
  ...echoed(`task-${seq}`, `${'x'.repeat(1900)} ${seq}`),
  success: seq % 10 !== 0,
});

it('pages through 100,000 outcomes of 2 KB holding an index of places, not the outcomes', async () => {
  const dir = tempDir();
  const store = new FileOutcomeStore(dir);
  await store.put('big', 0, outcomeOf(0));
  // The rest as one writer's appends would leave them, written in one stream to keep the test fast (lines as
  // an earlier build wrote them, without `success` in their head: parsed whole).
  const { folder, segments } = segmentsOf(dir);
  const stream = createWriteStream(join(folder, segments[0]!), { flags: 'a' });
  for (let seq = 1; seq < 100_000; seq++) {
    if (!stream.write(`${JSON.stringify({ seq, ms: Date.now(), outcome: outcomeOf(seq) })}\n`)) {
      await once(stream, 'drain');
    }
  }
  stream.end();
  await once(stream, 'close');
  let reader: FileOutcomeStore | undefined = new FileOutcomeStore(dir);
  let read = 0;
  let failed = 0;
  for (let after = -1; ;) {
    const page = await reader.list('big', { after, limit: 1000 });
    if (page.length === 0) break;
    read += page.length;
    failed += page.filter((e) => !e.outcome.success).length;
    after = page[page.length - 1]!.seq;
  }
  expect(read).toBe(100_000);
  expect(failed).toBe(10_000);
  // What the reader holds between pages: what letting go of it frees, the scans' garbage collected first.
  const holding = await retainedBytes();
  reader = undefined;
  const held = holding - (await retainedBytes());
  const fileBytes = statSync(join(folder, segments[0]!)).size;
  console.log(
    `100,000 outcomes (${(fileBytes / 1e6).toFixed(0)} MB on disk) paged 1000 at a time: ` +
      `the reader holds ${(held / 1e6).toFixed(2)} MB between pages`,
  );
  // The index: 25 bytes a place, in arrays grown by doubling to 131,072 places.
  expect(held).toBeGreaterThan(3e6);
  expect(held).toBeLessThan(5e6);
}, 300_000);
