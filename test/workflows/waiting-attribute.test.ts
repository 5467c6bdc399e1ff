/**
 * The waiting-steps search attribute's bookkeeping, without a server: an
 * upsert only when the listed ids change, removal when none waits, and a
 * list that stays within the size the server takes.
 */
import {
  MAX_ID_CHARS,
  MAX_LISTED,
  MAX_LIST_BYTES,
  WaitingStepsAttribute,
  listedIds,
  waitingStepsKey,
} from '../../src/workflows/lib/waiting-attribute';

function recorded() {
  const upserts: (string[] | null)[] = [];
  const attribute = new WaitingStepsAttribute((updates) => {
    for (const update of updates as { key: unknown; value: string[] | null }[]) {
      expect(update.key).toBe(waitingStepsKey);
      upserts.push(update.value);
    }
  });
  return { attribute, upserts };
}

test('upserts the sorted waiting ids when they change, and removes the attribute when none waits', () => {
  const { attribute, upserts } = recorded();
  attribute.started('deploy');
  attribute.started('build');
  attribute.started('build'); // no change: no upsert
  attribute.stopped('deploy');
  attribute.stopped('nothing-waits-here'); // no change
  attribute.stopped('build');
  expect(upserts).toEqual([['deploy'], ['build', 'deploy'], ['build'], null]);
  expect(waitingStepsKey).toEqual({ name: 'TaoWaitingSteps', type: 'KEYWORD_LIST' });
});

test(`lists at most ${MAX_LISTED} ids, cut to ${MAX_ID_CHARS} characters, within ${MAX_LIST_BYTES} bytes`, () => {
  const many = Array.from({ length: 40 }, (_, i) => `step-${String(i).padStart(2, '0')}`);
  expect(listedIds(many)).toEqual(many.slice(0, MAX_LISTED));

  const long = 'x'.repeat(500);
  expect(listedIds([long])).toEqual(['x'.repeat(MAX_ID_CHARS)]);

  // Four-byte characters: the byte budget, not the count, is what stops the list.
  const wide = Array.from({ length: 10 }, (_, i) => `${i}${'😀'.repeat(MAX_ID_CHARS)}`);
  const listed = listedIds(wide);
  expect(listed.length).toBeGreaterThan(0);
  expect(listed.length).toBeLessThan(MAX_LISTED);
  expect(Buffer.byteLength(JSON.stringify(listed))).toBeLessThanOrEqual(MAX_LIST_BYTES);

  // Past the listed ones, a change the list does not show upserts nothing; the set is still kept.
  const { attribute, upserts } = recorded();
  for (const id of many) attribute.started(id);
  expect(upserts).toHaveLength(MAX_LISTED);
  attribute.stopped('step-39');
  expect(upserts).toHaveLength(MAX_LISTED);
  for (const id of many.slice(0, 39)) attribute.stopped(id);
  expect(upserts.at(-1)).toBeNull();
});
