/**
 * The behaviour every `SessionStore` owes, as one suite each store runs:
 * memory, file and PostgreSQL alike.
 */
import {
  type StepOutcome,
  WORKFLOW_CHECKPOINT_SCHEMA_VERSION,
  type WorkflowCheckpoint,
} from '../../src/contracts';
import { type SessionStore, stepKey } from '../../src/stores/session-store';
import type { CacheEntry, StepCacheStore } from '../../src/stores/step-cache';
import { echoed } from '../support/specs';

export interface StoreUnderTest {
  store: SessionStore;
  cleanup(): Promise<void>;
}

/** As the checkpoint activity writes them: the recorded workflow id is the checkpoint id. */
export function checkpointOf(
  checkpointId: string,
  outcomes: StepOutcome[],
  checkpointMs = 1_000,
): WorkflowCheckpoint {
  return {
    schemaVersion: WORKFLOW_CHECKPOINT_SCHEMA_VERSION,
    workflowId: checkpointId,
    steps: outcomes.map((outcome) => ({ taskId: outcome.taskId, outcome })),
    checkpointMs,
  };
}

const step = (taskId: string, output: string, specDigest?: string) => ({
  taskId,
  outcome: echoed(taskId, output),
  ...(specDigest !== undefined ? { specDigest } : {}),
});

const grown = (checkpointId: string, n: number) =>
  checkpointOf(
    checkpointId,
    Array.from({ length: n }, (_, i) => echoed(`t${i}`, `out ${i}`)),
  );

export function describeSessionStoreContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`${name}: SessionStore contract`, () => {
    let subject: StoreUnderTest;
    let store: SessionStore;
    beforeEach(async () => {
      subject = await open();
      store = subject.store;
    });
    afterEach(() => subject.cleanup());

    test('a missing checkpoint loads as undefined; deleting it is fine', async () => {
      expect(await store.load('nothing-here')).toBeUndefined();
      await store.delete('nothing-here');
      expect(await store.list()).toEqual([]);
    });

    test('save then load gives back every field, structured and error included or absent', async () => {
      const checkpoint = checkpointOf(
        'round-trip',
        [
          { ...echoed('a', 'first'), structured: { verdict: 'ok', findings: [1, { deep: true }] } },
          {
            taskId: 'b',
            agent: 'review',
            sessionId: '',
            output: 'tests red',
            success: false,
            error: 'tests red',
          },
          echoed('c', 'multi\nline "quoted" ünïcode'),
        ],
        1_732_000_000_000,
      );
      expect(await store.save('round-trip', checkpoint)).toBe('saved');
      expect(await store.load('round-trip')).toEqual(checkpoint);
    });

    test('list summarizes every checkpoint; delete removes one and only one', async () => {
      await store.save('one', grown('one', 1));
      await store.save('two', grown('two', 2));
      expect(await store.list()).toEqual([
        { checkpointId: 'one', steps: 1, checkpointMs: 1_000 },
        { checkpointId: 'two', steps: 2, checkpointMs: 1_000 },
      ]);
      await store.delete('one');
      expect(await store.load('one')).toBeUndefined();
      expect((await store.load('two'))!.steps).toHaveLength(2);
    });

    test('saves never regress: fewer steps than stored is refused as stale and changes nothing', async () => {
      expect(await store.save('grow', grown('grow', 3))).toBe('saved');
      expect(await store.save('grow', grown('grow', 2))).toBe('stale');
      expect((await store.load('grow'))!.steps).toHaveLength(3);
      // The same size again is a legitimate retry of the last write.
      expect(await store.save('grow', grown('grow', 3))).toBe('saved');
      expect(await store.save('grow', grown('grow', 4))).toBe('saved');
      expect((await store.load('grow'))!.steps).toHaveLength(4);
    });

    test('concurrent saves of growing checkpoints end with the largest', async () => {
      const sizes = [5, 1, 8, 3, 8, 2, 7, 6, 4];
      await Promise.all(sizes.map((n) => store.save('racing', grown('racing', n))));
      expect((await store.load('racing'))!.steps).toHaveLength(8);
    });

    test('appends build a checkpoint up step by step; a retried append changes nothing', async () => {
      expect(await store.append('journal', { savedCount: 0, steps: [step('a', '1'), step('b', '2')] })).toBe(
        'saved',
      );
      for (const [savedCount, id] of [
        [2, 'c'],
        [3, 'd'],
        [4, 'e'],
      ] as const) {
        expect(await store.append('journal', { savedCount, steps: [step(id, id)] })).toBe('saved');
      }
      // The last append again, as after a lost acknowledgement.
      expect(await store.append('journal', { savedCount: 4, steps: [step('e', 'e')] })).toBe('saved');
      const loaded = (await store.load('journal'))!;
      expect(loaded.workflowId).toBe('journal');
      expect(loaded.steps.map((s) => [s.taskId, s.outcome.output])).toEqual([
        ['a', '1'],
        ['b', '2'],
        ['c', 'c'],
        ['d', 'd'],
        ['e', 'e'],
      ]);
      expect(await store.list()).toEqual([expect.objectContaining({ checkpointId: 'journal', steps: 5 })]);
    });

    test('an append on top of more than is held is missing-base, and changes nothing', async () => {
      expect(await store.append('base', { savedCount: 3, steps: [step('d', 'd')] })).toBe('missing-base');
      expect(await store.load('base')).toBeUndefined();
      await store.append('base', { savedCount: 0, steps: [step('a', 'a')] });
      expect(await store.append('base', { savedCount: 2, steps: [step('c', 'c')] })).toBe('missing-base');
      expect((await store.load('base'))!.steps.map((s) => s.taskId)).toEqual(['a']);
      await store.delete('base');
      expect(await store.append('base', { savedCount: 1, steps: [step('b', 'b')] })).toBe('missing-base');
    });

    test('a step recorded again for a changed spec replaces the old in place; the same spec keeps the first', async () => {
      await store.append('respec', {
        savedCount: 0,
        steps: [step('a', 'old a', 'd1'), step('b', 'old b', 'd1')],
      });
      await store.append('respec', {
        savedCount: 2,
        steps: [step('a', 'new a', 'd2'), step('b', 'again b', 'd1'), step('c', 'c', 'd1')],
      });
      const loaded = (await store.load('respec'))!;
      expect(loaded.steps.map((s) => [s.taskId, s.outcome.output, s.specDigest])).toEqual([
        ['a', 'new a', 'd2'],
        ['b', 'old b', 'd1'],
        ['c', 'c', 'd1'],
      ]);
    });

    test('the index holds what load holds, ids and spec digests alone, through appends, a respecified step and a save', async () => {
      const index = () => store.loadIndex!('indexed');
      const loadedKeys = async () => (await store.load('indexed'))!.steps.map(stepKey);
      expect(await index()).toBeUndefined();
      await store.append('indexed', { savedCount: 0, steps: [step('a', '1', 'd1'), step('b', '2')] });
      await store.append('indexed', {
        savedCount: 2,
        steps: [step('a', 'again', 'd2'), step('c', '3', 'd1')],
      });
      expect(await index()).toEqual([
        { taskId: 'a', specDigest: 'd2' },
        { taskId: 'b' },
        { taskId: 'c', specDigest: 'd1' },
      ]);
      expect(await index()).toEqual(await loadedKeys());
      const saved = ['z', 'a', 'b', 'c'];
      expect(
        await store.save(
          'indexed',
          checkpointOf(
            'indexed',
            saved.map((id) => echoed(id, id)),
            9,
          ),
        ),
      ).toBe('saved');
      expect(await index()).toEqual(saved.map((taskId) => ({ taskId })));
      expect(await index()).toEqual(await loadedKeys());
      await store.delete('indexed');
      expect(await index()).toBeUndefined();
    });

    test('concurrent appends from one base all land, each step once', async () => {
      await store.append('fan-in', { savedCount: 0, steps: [step('base', 'base')] });
      const ids = Array.from({ length: 12 }, (_, i) => `s${i}`);
      const results = await Promise.all(
        ids.map((id) => store.append('fan-in', { savedCount: 1, steps: [step(id, id)] })),
      );
      expect(results.every((r) => r === 'saved')).toBe(true);
      const held = (await store.load('fan-in'))!.steps.map((s) => s.taskId);
      expect(held).toHaveLength(13);
      expect(new Set(held)).toEqual(new Set(['base', ...ids]));
    });

    test('what load returned, and what save was given, stay as they were through later appends', async () => {
      const saved = grown('apart', 2);
      await store.save('apart', saved);
      await store.append('apart', { savedCount: 2, steps: [step('a', 'old a', 'd1')] });
      const loaded = (await store.load('apart'))!;
      await store.append('apart', { savedCount: 3, steps: [step('a', 'new a', 'd2'), step('b', 'b')] });
      expect(saved.steps.map((s) => s.taskId)).toEqual(['t0', 't1']);
      expect(loaded.steps.map((s) => [s.taskId, s.outcome.output])).toEqual([
        ['t0', 'out 0'],
        ['t1', 'out 1'],
        ['a', 'old a'],
      ]);
      expect((await store.load('apart'))!.steps.map((s) => [s.taskId, s.outcome.output])).toEqual([
        ['t0', 'out 0'],
        ['t1', 'out 1'],
        ['a', 'new a'],
        ['b', 'b'],
      ]);
    });

    test('a full save replaces what appends built', async () => {
      await store.append('replace', { savedCount: 0, steps: [step('a', 'a'), step('b', 'b')] });
      await store.append('replace', { savedCount: 2, steps: [step('c', 'c')] });
      expect(await store.save('replace', grown('replace', 2))).toBe('stale');
      expect(await store.save('replace', grown('replace', 4))).toBe('saved');
      expect((await store.load('replace'))!.steps.map((s) => s.taskId)).toEqual(['t0', 't1', 't2', 't3']);
      await store.append('replace', { savedCount: 4, steps: [step('z', 'z')] });
      expect((await store.load('replace'))!.steps).toHaveLength(5);
    });

    test('ids with separators, dots and unicode are kept apart and round-trip', async () => {
      const ids = ['a/b', '../up', 'ünï cödé', 'x'.repeat(200)];
      for (const [i, id] of ids.entries()) await store.save(id, grown(id, i + 1));
      for (const [i, id] of ids.entries()) expect((await store.load(id))!.steps).toHaveLength(i + 1);
    });

    describe('step states', () => {
      /** A conversation as the llm executor saves it: several KB, unicode, nested, one more message a save. */
      const conversation = (messages: number) => ({
        kind: 'tao.llm.conversation/1',
        rounds: messages,
        messages: Array.from({ length: messages }, (_, i) => ({
          role: 'tool',
          results: [{ callId: `c${i}`, content: `ünï "line"\n${'x'.repeat(500)}`, isError: false }],
        })),
        input: { nested: [1, null, { deep: true }] },
      });
      const record = (attemptScheduledMs: number, seq: number, attempt = 1) => ({
        attempt,
        attemptScheduledMs,
        seq,
        savedMs: 1_732_000_000_000 + seq,
        state: conversation(seq),
      });

      test('save then load gives the record back; none is undefined, and deleting none is fine', async () => {
        expect(await store.loadStepState('wf/run/1')).toBeUndefined();
        await store.deleteStepState('wf/run/1');
        expect(await store.saveStepState('wf/run/1', record(5_000, 3))).toBe('saved');
        expect(await store.loadStepState('wf/run/1')).toEqual(record(5_000, 3));
        // Step states are not checkpoints.
        expect(await store.list()).toEqual([]);
        expect(await store.load('wf/run/1')).toBeUndefined();
      });

      test('a save replaces the record; an earlier one of the same attempt is stale and changes nothing', async () => {
        for (let seq = 1; seq <= 4; seq++)
          expect(await store.saveStepState('k', record(5_000, seq))).toBe('saved');
        expect(await store.saveStepState('k', record(5_000, 2))).toBe('stale');
        // The same state again is a retried write, not a step back.
        expect(await store.saveStepState('k', record(5_000, 4))).toBe('saved');
        expect(await store.loadStepState('k')).toEqual(record(5_000, 4));
      });

      test("a later attempt's write wins whatever its seq; the earlier attempt's writes are refused after it", async () => {
        await store.saveStepState('k', record(5_000, 6, 1));
        // The retry went on from seq 4 (the heartbeat's, say): still the newer record.
        expect(await store.saveStepState('k', record(9_000, 5, 2))).toBe('saved');
        // The first attempt, given up on by the server but still running, writes on.
        expect(await store.saveStepState('k', record(5_000, 7, 1))).toBe('stale');
        expect(await store.loadStepState('k')).toEqual(record(9_000, 5, 2));
      });

      test('concurrent saves of one attempt end with the furthest', async () => {
        const seqs = [5, 1, 8, 3, 8, 2, 7, 6, 4];
        await Promise.all(seqs.map((seq) => store.saveStepState('racing', record(5_000, seq))));
        expect((await store.loadStepState('racing'))!.seq).toBe(8);
      });

      test('keys with separators, dots and unicode are kept apart; list summarizes each; delete removes one', async () => {
        const keys = ['a/b/1', '../up/2', 'ünï cödé/3', 'x'.repeat(900)];
        for (const [i, key] of keys.entries()) await store.saveStepState(key, record(5_000, i + 1));
        for (const [i, key] of keys.entries()) expect((await store.loadStepState(key))!.seq).toBe(i + 1);
        const listed = await store.listStepStates();
        expect(listed.map((s) => s.key)).toEqual([...keys].sort());
        const first = listed.find((s) => s.key === 'a/b/1')!;
        expect(first).toEqual({
          key: 'a/b/1',
          attempt: 1,
          seq: 1,
          savedMs: 1_732_000_000_001,
          bytes: Buffer.byteLength(JSON.stringify(conversation(1))),
        });
        await store.deleteStepState('a/b/1');
        expect(await store.loadStepState('a/b/1')).toBeUndefined();
        expect((await store.listStepStates()).map((s) => s.key)).toHaveLength(3);
      });

      test('a key no store can hold is refused with the rule, before touching storage', async () => {
        for (const key of ['', 'a\u0000b', 'é'.repeat(600)]) {
          await expect(store.saveStepState(key, record(5_000, 1))).rejects.toThrow(
            'bad step-state key: must be 1 to 1024 bytes with no control characters',
          );
        }
        expect(await store.listStepStates()).toEqual([]);
      });
    });

    describe('step cache', () => {
      // Optional on the interface (a store written against 1.0 has none); every TAO store keeps one.
      let cache: StepCacheStore;
      beforeEach(() => {
        expect(typeof store.getCached).toBe('function');
        cache = store as StepCacheStore;
      });
      const entry = (key: string, output: string, expiresMs?: number): CacheEntry => ({
        key,
        taskId: `task ${key}`,
        agent: 'echo',
        workflowId: `run-of-${output}`,
        savedMs: 1_000,
        ...(expiresMs !== undefined ? { expiresMs } : {}),
        outcome: { ...echoed(`task ${key}`, output), structured: { n: [1, 2] } },
      });

      test('an entry put comes back whole while fresh, and a later put replaces it', async () => {
        expect(await cache.getCached('sha256:aa', 0)).toBeUndefined();
        await cache.putCached(entry('sha256:aa', 'first'));
        expect(await cache.getCached('sha256:aa', Number.MAX_SAFE_INTEGER)).toEqual(
          entry('sha256:aa', 'first'),
        );
        await cache.putCached(entry('sha256:aa', 'second', 5_000));
        expect(await cache.getCached('sha256:aa', 4_999)).toEqual(entry('sha256:aa', 'second', 5_000));
        expect(await cache.getCached('sha256:aa', 5_000)).toBeUndefined();
      });

      test('list shows every entry (expired too) without outcomes; rm and clear remove them', async () => {
        await cache.putCached(entry('sha256:bb', 'b', 2_000));
        await cache.putCached(entry('sha256:aa', 'a'));
        await cache.putCached(entry('sha256:cc', 'c'));
        const summary = (key: string, output: string) => ({
          key,
          taskId: `task ${key}`,
          agent: 'echo',
          workflowId: `run-of-${output}`,
          savedMs: 1_000,
        });
        const a = summary('sha256:aa', 'a');
        const b = { ...summary('sha256:bb', 'b'), expiresMs: 2_000 };
        expect((await cache.listCached()).slice(0, 2)).toEqual([a, b]);
        expect(await cache.deleteCached('sha256:bb')).toBe(true);
        expect(await cache.deleteCached('sha256:bb')).toBe(false);
        expect((await cache.listCached()).map((e) => e.key)).toEqual(['sha256:aa', 'sha256:cc']);
        expect(await cache.clearCached()).toBe(2);
        expect(await cache.listCached()).toEqual([]);
        expect(await cache.getCached('sha256:aa', 0)).toBeUndefined();
      });
    });
  });
}
