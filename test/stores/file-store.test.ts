import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSessionStore } from '../../src/stores/file-store';
import { echoed } from '../support/specs';
import { checkpointOf, describeSessionStoreContract } from './store-contract';

const FIXTURES = join(__dirname, '../fixtures/a3s-checkpoints');

function tempStore() {
  const dir = mkdtempSync(join(tmpdir(), 'tao-file-store-'));
  return {
    dir,
    store: new FileSessionStore(dir),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

describeSessionStoreContract('file', async () => tempStore());

describe('file store on disk', () => {
  let subject: ReturnType<typeof tempStore>;
  beforeEach(() => {
    subject = tempStore();
  });
  afterEach(() => subject.cleanup());
  const folder = () => join(subject.dir, 'workflow_checkpoints');

  test('writes the a3s format, pretty-printed, at <dir>/workflow_checkpoints/<safe id>.json, no temp files left', async () => {
    await subject.store.save(
      'team/run..1',
      checkpointOf('team/run..1', [{ ...echoed('a', 'out'), structured: { v: 1 } }], 7),
    );
    expect(readdirSync(folder())).toEqual(['team_run_1.json']);
    const text = readFileSync(join(folder(), 'team_run_1.json'), 'utf8');
    expect(text).toContain('\n  "schema_version": 1');
    expect(JSON.parse(text)).toEqual({
      schema_version: 1,
      workflow_id: 'team/run..1',
      steps: [
        {
          task_id: 'a',
          outcome: {
            task_id: 'a',
            session_id: 'task-run-a',
            agent: 'explore',
            output: 'out',
            success: true,
            structured: { v: 1 },
          },
        },
      ],
      checkpoint_ms: 7,
    });
  });

  test('files at rest are owner-only: folders 0700, checkpoints 0600, a folder made world-readable tightened', async () => {
    mkdirSync(folder(), { recursive: true, mode: 0o755 });
    chmodSync(subject.dir, 0o755);
    chmodSync(folder(), 0o755);
    await subject.store.save('private-run', checkpointOf('private-run', [echoed('a', 'secret prompt')]));
    expect(statSync(subject.dir).mode & 0o777).toBe(0o700);
    expect(statSync(folder()).mode & 0o777).toBe(0o700);
    expect(statSync(join(folder(), 'private-run.json')).mode & 0o777).toBe(0o600);
  });

  test('a checkpoint written by a3s loads', async () => {
    copyFileSync(join(FIXTURES, 'v1-two-steps.json'), join(await ensureFolder(), 'wf-1.json'));
    expect((await subject.store.load('wf-1'))!.steps.map((s) => s.outcome.output)).toEqual([
      'cached-a',
      'cached-b',
    ]);
  });

  test('an unreadable file is reported by list and kept aside, not lost, when a new save lands', async () => {
    const file = join(await ensureFolder(), 'broken.json');
    writeFileSync(file, '{ not json');
    expect(await subject.store.list()).toEqual([
      { checkpointId: 'broken', steps: 0, checkpointMs: 0, unreadable: expect.stringContaining('not JSON') },
    ]);
    expect(await subject.store.save('broken', checkpointOf('broken', [echoed('a', 'new')]))).toBe('saved');
    const aside = readdirSync(folder()).filter((name) => name.startsWith('broken.json.unreadable-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(folder(), aside[0]!), 'utf8')).toBe('{ not json');
    expect((await subject.store.load('broken'))!.steps).toHaveLength(1);
  });

  test('ids the a3s file-name rule maps to one file are kept apart: the second is refused, not mixed up', async () => {
    await subject.store.save('a/b', checkpointOf('a/b', [echoed('x', 'from a/b')]));
    expect(await subject.store.load('a\\b')).toBeUndefined();
    await expect(subject.store.save('a\\b', checkpointOf('a\\b', [echoed('y', 'other')]))).rejects.toThrow(
      /checkpoint id "a\\b" maps to the same file as "a\/b" .*use ids that differ/,
    );
    expect((await subject.store.load('a/b'))!.steps[0]!.outcome.output).toBe('from a/b');
  });

  async function ensureFolder(): Promise<string> {
    await subject.store.ensureWritable();
    return folder();
  }
});
