/** The worker's transcript writer against real stores: coalesced text, order, the event limit, a store that fails. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileSessionStore } from '../../src/stores/file-store';
import { MemoryTranscripts } from '../../src/stores/memory-transcripts';
import { type StepEventBody, TRANSCRIPT_LIMITS } from '../../src/transcripts/events';
import { CLOSE_WAIT_MS, TranscriptWriter } from '../../src/transcripts/writer';
import { PostgresSessionStore } from '../../src/stores/postgres-store';
import { eventually } from '../support/gate-executor';
import { startPostgres } from '../support/postgres';

const key = { workflowId: 'wf', taskId: 't' };
const noWarnings = (message: string, error: string) => {
  throw new Error(`${message}: ${error}`);
};

test('streamed text is gathered into one event per 100 ms, and an event after it never overtakes it', async () => {
  const store = new MemoryTranscripts();
  const writer = new TranscriptWriter(store, key, 3, noWarnings);
  for (const piece of 'hello there'.split('')) writer.emit({ kind: 'text-delta', round: 1, text: piece });
  await sleep(TRANSCRIPT_LIMITS.deltaMs + 50);
  writer.emit({ kind: 'text-delta', round: 1, text: ', world' });
  writer.emit({ kind: 'turn-start', round: 2 });
  await writer.close();
  const { events } = (await store.readTranscript(key))!;
  expect(
    events.map(({ seq, kind, attempt, ...rest }) => [seq, kind, attempt, 'text' in rest ? rest.text : '']),
  ).toEqual([
    [1, 'text-delta', 3, 'hello there'],
    [2, 'text-delta', 3, ', world'],
    [3, 'turn-start', 3, ''],
  ]);
});

test('an event over the limit is cut head and tail and says so', async () => {
  const store = new MemoryTranscripts();
  const writer = new TranscriptWriter(store, key, 1, noWarnings);
  const content = `START${'x'.repeat(TRANSCRIPT_LIMITS.eventBytes * 2)}END`;
  writer.emit({ kind: 'tool-result', round: 1, callId: 'c1', content, isError: false });
  await writer.close();
  const [event] = (await store.readTranscript(key))!.events;
  expect(event).toMatchObject({ kind: 'tool-result', callId: 'c1', truncated: true });
  expect(JSON.stringify(event).length).toBeLessThanOrEqual(TRANSCRIPT_LIMITS.eventBytes);
  expect((event as { content: string }).content).toMatch(/^STARTx+\n… \[\d+ characters cut\] …\nx+END$/);
});

test("an event that is not one (a custom executor's) is dropped, and said once", async () => {
  const store = new MemoryTranscripts();
  const warnings: string[] = [];
  const writer = new TranscriptWriter(store, key, 1, (message, error) =>
    warnings.push(`${message}: ${error}`),
  );
  const wrong = { kind: 'turn-start', round: -1 } as StepEventBody;
  writer.emit(wrong);
  writer.emit(wrong);
  writer.emit({ kind: 'turn-start', round: 1 });
  await writer.close();
  expect(warnings).toEqual([expect.stringMatching(/^step event dropped, not a transcript event: round: /)]);
  expect((await store.readTranscript(key))!.events).toMatchObject([{ seq: 1, kind: 'turn-start', round: 1 }]);
});

test('a store that cannot be written is logged once and the step goes on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tao-writer-'));
  try {
    // A file where the store's folder should be: every write fails, as on a full or read-only disk.
    writeFileSync(join(dir, 'not-a-folder'), '');
    const store = new FileSessionStore(join(dir, 'not-a-folder'));
    const warnings: string[] = [];
    const writer = new TranscriptWriter(store.transcripts, key, 1, (message, error) =>
      warnings.push(`${message}: ${error}`),
    );
    writer.emit({ kind: 'attempt-start' });
    await sleep(10);
    writer.emit({ kind: 'turn-start', round: 1 });
    await writer.close();
    expect(warnings).toEqual([
      expect.stringMatching(
        /^step transcript could not be written: file checkpoint store cannot write to .*transcripts \((EEXIST|ENOTDIR)\); fix its permissions or choose another folder with --store file:<dir>$/,
      ),
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a store that hangs holds the attempt's end for at most CLOSE_WAIT_MS; the events land once it answers", async () => {
  const pg = await startPostgres();
  const store = await PostgresSessionStore.connect(pg.url);
  try {
    const writer = new TranscriptWriter(store.transcripts, key, 1, noWarnings);
    writer.emit({ kind: 'attempt-start' });
    await writer.close();
    pg.freeze();
    writer.emit({ kind: 'attempt-end', result: 'success' });
    const started = Date.now();
    await writer.close();
    const waited = Date.now() - started;
    pg.thaw();
    expect(waited).toBeGreaterThanOrEqual(CLOSE_WAIT_MS - 50);
    expect(waited).toBeLessThan(CLOSE_WAIT_MS + 1_000);
    // The write the close did not wait for lands once the server answers again.
    await eventually(async () =>
      (await store.transcripts.readTranscript(key))?.lastSeq === 2 ? true : undefined,
    );
  } finally {
    pg.thaw();
    await store.close();
    pg.destroy();
  }
}, 60_000);
