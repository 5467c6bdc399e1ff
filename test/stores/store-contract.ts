/**
 * The behaviour every `SessionStore` owes, as one suite each store runs:
 * memory, file and PostgreSQL alike.
 */
import {
  type StepOutcome,
  WORKFLOW_CHECKPOINT_SCHEMA_VERSION,
  type WorkflowCheckpoint,
} from '../../src/contracts';
import type { SessionStore } from '../../src/stores/session-store';
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

    test('ids with separators, dots and unicode are kept apart and round-trip', async () => {
      const ids = ['a/b', '../up', 'ünï cödé', 'x'.repeat(200)];
      for (const [i, id] of ids.entries()) await store.save(id, grown(id, i + 1));
      for (const [i, id] of ids.entries()) expect((await store.load(id))!.steps).toHaveLength(i + 1);
    });
  });
}
