/**
 * `tao results` as a user runs it: a real child process reading the outcomes
 * a run kept by reference in the store (a folder, by flag and by env), a
 * line per step or a JSON object per line, all or failures only; one clear
 * line when the store holds none of the run's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { failedOutcome } from '../../src/contracts';
import { FileOutcomeStore } from '../../src/outcomes';
import { echoed } from '../support/specs';
import { tao } from '../support/cli';

const dir = mkdtempSync(join(tmpdir(), 'tao-cli-results-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ref = ['--store', `file:${dir}`];

beforeAll(async () => {
  const store = new FileOutcomeStore(dir);
  // More than a page of the client's (500), put out of order and one retried, as a run's steps do.
  for (let seq = 1200; seq >= 0; seq--) {
    await store.put(
      'run-1',
      seq,
      seq % 400 === 7
        ? failedOutcome(`task-${seq}`, 'explore', `timed out\nafter 3 attempts`)
        : echoed(`task-${seq}`, `found ${seq}\nsecond line`),
    );
  }
  await store.put('run-1', 7, echoed('task-7', 'found 7 on retry'));
  await store.put('all-fine', 0, echoed('only', 'fine'));
}, 60_000);

test('prints a line per step in item order: place, task, agent, result, first line', async () => {
  const run = await tao(['results', 'run-1', ...ref]);
  expect(run).toMatchObject({ code: 0, stderr: '' });
  const lines = run.stdout.trim().split('\n');
  expect(lines).toHaveLength(1201);
  expect(lines[0]).toBe('0  task-0  explore  ok  found 0');
  expect(lines[7]).toBe('7  task-7  explore  ok  found 7 on retry');
  expect(lines[407]).toBe('407  task-407  explore  failed  timed out');
  expect(lines[1200]).toBe('1200  task-1200  explore  ok  found 1200');
});

test('--jsonl --failed: the failures, one JSON object per line, the store named by TAO_STORE', async () => {
  const run = await tao(['results', 'run-1', '--jsonl', '--failed'], { env: { TAO_STORE: `file:${dir}` } });
  expect(run.code).toBe(0);
  const entries = run.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { seq: number });
  expect(entries).toEqual(
    [407, 807].map((seq) => ({
      seq,
      outcome: failedOutcome(`task-${seq}`, 'explore', 'timed out\nafter 3 attempts'),
    })),
  );
});

test('one clear line for a run with no failures, and for a run the store does not have', async () => {
  expect(await tao(['results', 'all-fine', '--failed', ...ref])).toMatchObject({
    code: 0,
    stdout: '',
    stderr: 'no step of all-fine failed\n',
  });
  expect(await tao(['results', 'unknown-run', ...ref])).toEqual({
    code: 1,
    stdout: '',
    stderr: `tao: no outcomes of unknown-run in file:${dir}; a run keeps them there only when its items are by reference: give the store its workers use with --store (TAO_STORE)\n`,
  });
  expect(await tao(['results', 'run-1', '--store', 'memory'])).toMatchObject({
    code: 2,
    stderr: expect.stringContaining('a memory store lives and dies inside its worker'),
  });
  expect(await tao(['results', 'run-1', '--store', 'redis://x'])).toMatchObject({
    code: 2,
    stderr: 'tao: unknown store "redis://x"; use memory, file:<dir> or postgres://user@host/db\n',
  });
});
