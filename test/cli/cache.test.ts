/** `tao cache` as a user runs it: a real child process on the file store a worker kept step outcomes in. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScriptExecutor } from '../../src/executors/script';
import { FileSessionStore } from '../../src/stores/file-store';
import type { CacheEntrySummary } from '../../src/stores/step-cache';
import { tao } from '../support/cli';
import { closeDevClient, devServerAddress, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const dir = mkdtempSync(join(tmpdir(), 'tao-cli-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const step = (taskId: string, cache: object) => ({ taskId, agent: 'explore', prompt: `do ${taskId}`, cache });

describe('tao cache', () => {
  test('a second tao run is served from the cache; list, rm and clear manage what the runs kept', async () => {
    const storeDir = join(dir, 'store');
    const file = join(dir, 'spec.json');
    const specs = [step('a', {}), step('b', { ttlMs: 3_600_000 }), step('c', { key: 'commit-1' })];
    writeFileSync(file, JSON.stringify({ workflow: 'parallel', input: { specs } }));
    const executor = new ScriptExecutor({});
    await withWorker({ executor, store: new FileSessionStore(storeDir) }, async ({ taskQueue }) => {
      const args = ['run', file, '--address', devServerAddress(), '--task-queue', taskQueue];
      expect(await tao(args)).toMatchObject({ code: 0 });
      const again = await tao([...args, '--id', 'served-from-cache']);
      expect(again.code).toBe(0);
      expect(again.stderr).toContain('3/3 steps · 3 cached');
      const status = await tao(['status', 'served-from-cache', '--address', devServerAddress()]);
      expect(status.stdout).toMatch(/│ a +│ a +│ explore +│ cached from \S+ +│/);
    });
    const ref = ['--store', `file:${storeDir}`];

    const listed = JSON.parse((await tao(['cache', 'list', '--json', ...ref])).stdout) as CacheEntrySummary[];
    expect(listed.map((entry) => entry.taskId).sort()).toEqual(['a', 'b', 'c']);
    const b = listed.find((entry) => entry.taskId === 'b')!;
    expect(b.expiresMs! - b.savedMs).toBe(3_600_000);
    expect(listed.every((entry) => entry.workflowId !== 'served-from-cache')).toBe(true);
    const table = await tao(['cache', 'list', ...ref]);
    expect(table.stdout).toMatch(new RegExp(`│ ${b.key} +│ b +│ explore +│ ${b.workflowId} +│`));

    expect(await tao(['cache', 'rm', b.key, ...ref])).toMatchObject({
      code: 0,
      stdout: `removed cached step ${b.key}\n`,
    });
    expect(await tao(['cache', 'rm', b.key, ...ref])).toMatchObject({
      code: 1,
      stderr: `tao: no cached step ${b.key} in file:${storeDir}\n`,
    });
    expect(await tao(['cache', 'clear', ...ref])).toMatchObject({
      code: 0,
      stdout: 'removed 2 cached steps\n',
    });
    expect(await tao(['cache', 'list', ...ref])).toMatchObject({ code: 0, stdout: 'no cached steps\n' });
  });
});
