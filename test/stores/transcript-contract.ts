/**
 * The behaviour every store's transcripts owe (src/transcripts/events.ts), as
 * one suite each backend runs: memory, file and PostgreSQL alike.
 */
import type { SessionStore } from '../../src/stores/session-store';
import { TRANSCRIPT_LIMITS, type TranscriptStore, type UnnumberedEvent } from '../../src/transcripts/events';
import type { StoreUnderTest } from './store-contract';

const key = { workflowId: 'wf-1', taskId: 'step-a' };
const turn = (round: number, attempt = 1): UnnumberedEvent => ({
  kind: 'turn-start',
  round,
  attempt,
  timeMs: 1_000 + round,
});

export function describeTranscriptContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`${name}: transcripts contract`, () => {
    let subject: StoreUnderTest;
    let transcripts: TranscriptStore;
    beforeEach(async () => {
      subject = await open();
      transcripts = (subject.store as SessionStore).transcripts!;
    });
    afterEach(() => subject.cleanup());

    test('a step with none reads as undefined, and removing it removes nothing', async () => {
      expect(await transcripts.readTranscript(key)).toBeUndefined();
      expect(await transcripts.deleteTranscripts('wf-1', 'step-a')).toBe(0);
      expect(await transcripts.deleteTranscripts('wf-1')).toBe(0);
    });

    test('events are numbered 1, 2, … in order across appends; a reader resumes after the last seq it saw', async () => {
      expect(await transcripts.appendTranscript(key, [turn(1), turn(2)])).toBe(0);
      expect(await transcripts.appendTranscript(key, [turn(3, 2)])).toBe(0);
      const all = (await transcripts.readTranscript(key))!;
      expect(all).toMatchObject({ ...key, lastSeq: 3 });
      expect(all.events).toEqual([
        { ...turn(1), seq: 1 },
        { ...turn(2), seq: 2 },
        { ...turn(3, 2), seq: 3 },
      ]);
      const rest = (await transcripts.readTranscript(key, 2))!;
      expect(rest.events.map((e) => e.seq)).toEqual([3]);
      expect((await transcripts.readTranscript(key, 3))!.events).toEqual([]);
    });

    test('writers appending at once (a killed attempt still flushing, its retry) never share a number', async () => {
      const writers = [1, 2, 3].map((attempt) =>
        (async () => {
          for (let round = 1; round <= 10; round++)
            await transcripts.appendTranscript(key, [turn(round, attempt)]);
        })(),
      );
      await Promise.all(writers);
      const { events, lastSeq } = (await transcripts.readTranscript(key))!;
      expect(lastSeq).toBe(30);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      for (const attempt of [1, 2, 3]) {
        const rounds = events.filter((e) => e.attempt === attempt).map((e) => (e as { round: number }).round);
        expect(rounds).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      }
    });

    test('past its limit a step keeps its first events and its attempt boundaries, and says how many it dropped', async () => {
      const line = TRANSCRIPT_LIMITS.stepBytes / 256;
      const big = (round: number): UnnumberedEvent => {
        const event = {
          kind: 'text-delta' as const,
          round: 1_000 + round,
          text: '',
          attempt: 1,
          timeMs: 2_000,
        };
        // Each a JSON line of exactly `line` bytes: 256 fill the step.
        return { ...event, text: 'x'.repeat(line - 1 - JSON.stringify(event).length) };
      };
      const fits = 256;
      const first = Array.from({ length: fits }, (_, i) => big(i + 1));
      expect(await transcripts.appendTranscript(key, first)).toBe(0);
      const end: UnnumberedEvent = { kind: 'attempt-end', result: 'success', attempt: 1, timeMs: 3_000 };
      expect(await transcripts.appendTranscript(key, [big(fits + 1), big(fits + 2), end])).toBe(2);
      const { events, lastSeq } = (await transcripts.readTranscript(key))!;
      expect(lastSeq).toBe(fits + 1);
      expect(events.at(-2)).toMatchObject({ kind: 'text-delta', round: 1_000 + fits });
      expect(events.at(-1)).toMatchObject({ kind: 'attempt-end', seq: fits + 1 });
    });

    test("rm takes one step's transcript, or every step's of a workflow", async () => {
      await transcripts.appendTranscript(key, [turn(1)]);
      await transcripts.appendTranscript({ ...key, taskId: 'step-b' }, [turn(1)]);
      await transcripts.appendTranscript({ workflowId: 'wf-2', taskId: 'step-a' }, [turn(1)]);
      expect(await transcripts.deleteTranscripts('wf-1', 'step-a')).toBe(1);
      expect(await transcripts.readTranscript(key)).toBeUndefined();
      expect(await transcripts.readTranscript({ ...key, taskId: 'step-b' })).toBeDefined();
      expect(await transcripts.deleteTranscripts('wf-1')).toBe(1);
      expect(await transcripts.deleteTranscripts('wf-1')).toBe(0);
      expect(await transcripts.readTranscript({ workflowId: 'wf-2', taskId: 'step-a' })).toBeDefined();
    });

    test('a listing names every step held, when its last event landed and its bytes; none once removed', async () => {
      expect(await transcripts.listTranscripts()).toEqual([]);
      const before = Date.now();
      await transcripts.appendTranscript(key, [turn(1), turn(2)]);
      const other = { workflowId: 'wf-2 with a long id '.padEnd(400, 'x'), taskId: 'step/b' };
      await transcripts.appendTranscript(other, [turn(1)]);
      const lines = (...events: UnnumberedEvent[]) =>
        events.reduce((sum, event) => sum + Buffer.byteLength(JSON.stringify(event)) + 1, 0);
      const listed = (await transcripts.listTranscripts()).sort((a, b) => a.taskId.localeCompare(b.taskId));
      expect(listed).toEqual([
        { ...key, lastEventMs: expect.any(Number), bytes: lines(turn(1), turn(2)) },
        { ...other, lastEventMs: expect.any(Number), bytes: lines(turn(1)) },
      ]);
      for (const { lastEventMs } of listed) {
        // A file's time is the file system's, which may round down to its own tick.
        expect(lastEventMs).toBeGreaterThanOrEqual(before - 10);
        expect(lastEventMs).toBeLessThanOrEqual(Date.now());
      }
      await transcripts.deleteTranscripts(key.workflowId, key.taskId);
      expect((await transcripts.listTranscripts()).map((t) => t.taskId)).toEqual(['step/b']);
      await transcripts.deleteTranscripts(other.workflowId);
      expect(await transcripts.listTranscripts()).toEqual([]);
    });

    test('ids a store could not hold are refused with the fix', async () => {
      await expect(transcripts.readTranscript({ workflowId: 'a\nb', taskId: 't' })).rejects.toThrow(
        /^bad transcript workflowId "a\\nb": no control characters; give the id as tao status shows it$/,
      );
      await expect(transcripts.appendTranscript({ workflowId: 'w', taskId: '' }, [turn(1)])).rejects.toThrow(
        /^bad transcript taskId "": /,
      );
    });
  });
}
