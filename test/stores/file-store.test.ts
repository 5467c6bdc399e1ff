import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { encodeA3sCheckpoint } from '../../src/stores/a3s-codec';
import { tempPathFor } from '../../src/stores/atomic-file';
import { FileSessionStore } from '../../src/stores/file-store';
import { echoed } from '../support/specs';
import { checkpointOf, describeSessionStoreContract } from './store-contract';
import { describeTranscriptContract } from './transcript-contract';

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
describeTranscriptContract('file', async () => tempStore());

test('file transcripts: a line a crash tore takes no number, and the next append starts a fresh line', async () => {
  const { store, cleanup } = tempStore();
  try {
    const key = { workflowId: 'wf', taskId: 't' };
    const event = { kind: 'turn-start' as const, round: 1, attempt: 1, timeMs: 1 };
    await store.transcripts.appendTranscript(key, [event]);
    const folder = join(store.transcripts.folder, readdirSync(store.transcripts.folder)[0]!);
    const file = readdirSync(folder).find((name) => name.endsWith('.jsonl'))!;
    appendFileSync(join(folder, file), '{"kind":"turn-st');
    expect((await store.transcripts.readTranscript(key))!.lastSeq).toBe(1);
    await store.transcripts.appendTranscript(key, [{ ...event, round: 2 }]);
    const { events, lastSeq } = (await store.transcripts.readTranscript(key))!;
    expect(lastSeq).toBe(2);
    expect(events.map((e) => [e.seq, (e as { round: number }).round])).toEqual([
      [1, 1],
      [2, 2],
    ]);
  } finally {
    await cleanup();
  }
});

test("file transcripts: each step's ids lie beside its events, owner-only; a step's file without them is not listed", async () => {
  const { store, cleanup } = tempStore();
  try {
    const key = { workflowId: 'wf', taskId: 't' };
    await store.transcripts.appendTranscript(key, [{ kind: 'turn-start', round: 1, attempt: 1, timeMs: 1 }]);
    const folder = join(store.transcripts.folder, readdirSync(store.transcripts.folder)[0]!);
    const [events, ids] = readdirSync(folder).sort();
    expect(ids).toBe(events!.replace(/\.jsonl$/, '.key'));
    expect(JSON.parse(readFileSync(join(folder, ids!), 'utf8'))).toEqual(key);
    for (const name of [events!, ids!]) expect(statSync(join(folder, name)).mode & 0o777).toBe(0o600);
    // Not one a listing could name (it would be removed by nothing): left out, not guessed at.
    rmSync(join(folder, ids!));
    expect(await store.transcripts.listTranscripts()).toEqual([]);
  } finally {
    await cleanup();
  }
});

describe('file store on disk', () => {
  let subject: ReturnType<typeof tempStore>;
  beforeEach(() => {
    subject = tempStore();
  });
  afterEach(() => subject.cleanup());
  const folder = () => join(subject.dir, 'v1', 'workflow_checkpoints');
  const legacyFolder = () => join(subject.dir, 'workflow_checkpoints');

  test('writes the a3s 9.1.3 format, pretty-printed, at <dir>/v1/workflow_checkpoints/id_<base64url id>.json, no temp files left', async () => {
    await subject.store.save(
      'team/run..1',
      checkpointOf('team/run..1', [{ ...echoed('a', 'out'), structured: { v: 1 } }], 7),
    );
    expect(readdirSync(subject.dir)).toEqual(['v1']);
    expect(readdirSync(folder())).toEqual(['id_dGVhbS9ydW4uLjE.json']);
    const text = readFileSync(join(folder(), 'id_dGVhbS9ydW4uLjE.json'), 'utf8');
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
    for (const dir of [subject.dir, join(subject.dir, 'v1'), folder()]) {
      expect(statSync(dir).mode & 0o777).toBe(0o700);
    }
    expect(statSync(join(folder(), 'id_cHJpdmF0ZS1ydW4.json')).mode & 0o777).toBe(0o600);
  });

  test('a checkpoint in the legacy layout loads, moves to v1 on its next save, and goes with rm from both', async () => {
    mkdirSync(legacyFolder());
    const legacyFile = join(legacyFolder(), 'wf-1.json');
    copyFileSync(join(FIXTURES, 'v1-two-steps.json'), legacyFile);
    const loaded = (await subject.store.load('wf-1'))!;
    expect(loaded.steps.map((s) => s.outcome.output)).toEqual(['cached-a', 'cached-b']);
    expect(await subject.store.list()).toEqual([
      { checkpointId: 'wf-1', steps: 2, checkpointMs: expect.any(Number) },
    ]);

    const grown = checkpointOf('wf-1', [...loaded.steps.map((s) => s.outcome), echoed('c', 'new')]);
    expect(await subject.store.save('wf-1', grown)).toBe('saved');
    expect(readdirSync(folder())).toEqual(['id_d2YtMQ.json']);
    expect(readFileSync(legacyFile)).toEqual(readFileSync(join(FIXTURES, 'v1-two-steps.json')));
    expect((await subject.store.load('wf-1'))!.steps).toHaveLength(3);
    // Listed once, as the v1 file that loads read.
    expect(await subject.store.list()).toEqual([
      { checkpointId: 'wf-1', steps: 3, checkpointMs: expect.any(Number) },
    ]);

    await subject.store.delete('wf-1');
    expect(readdirSync(folder())).toEqual([]);
    expect(readdirSync(legacyFolder())).toEqual([]);
    expect(await subject.store.load('wf-1')).toBeUndefined();
  });

  test('a store written by a3s-code-core 9.1.3 itself loads and lists', async () => {
    cpSync(join(FIXTURES, 'a3s-9.1.3-store'), subject.dir, { recursive: true });
    const loaded = (await subject.store.load('review/run-7'))!;
    expect(loaded.steps.map((s) => [s.taskId, s.outcome.output])).toEqual([
      ['review-a', 'rust:review-a'],
      ['explore-a', 'rust:explore-a'],
    ]);
    expect(await subject.store.list()).toEqual([{ checkpointId: 'review/run-7', steps: 2, checkpointMs: 1 }]);
  });

  test("an append keeps a3s's result_receipt for steps it did not change, and drops it from a step run again", async () => {
    mkdirSync(folder(), { recursive: true });
    const file = join(folder(), 'id_d2YtMQ.json');
    const fixture = join(FIXTURES, 'a3s-9.1.3-with-receipt.json');
    copyFileSync(fixture, file);
    const receipt = JSON.parse(readFileSync(fixture, 'utf8')).steps[0].result_receipt;
    const loaded = (await subject.store.load('wf-1'))!;
    expect(loaded.steps.map((s) => [s.taskId, s.outcome.output])).toEqual([['a', 'rust:a']]);

    const a = loaded.steps[0]!.outcome;
    await subject.store.save('wf-1', checkpointOf('wf-1', [a, echoed('b', 'tao:b')], 2));
    const appended = JSON.parse(readFileSync(file, 'utf8'));
    expect(appended.steps.map((s: { task_id: string }) => s.task_id)).toEqual(['a', 'b']);
    expect(appended.steps[0].result_receipt).toEqual(receipt);
    expect(appended.steps[1]).not.toHaveProperty('result_receipt');

    await subject.store.save(
      'wf-1',
      checkpointOf('wf-1', [{ ...a, output: 'tao:a' }, echoed('b', 'tao:b')], 3),
    );
    expect(JSON.parse(readFileSync(file, 'utf8')).steps[0]).not.toHaveProperty('result_receipt');
  });

  test('an unreadable file is reported by list and kept aside, not lost, when a new save lands', async () => {
    mkdirSync(folder(), { recursive: true });
    writeFileSync(join(folder(), 'id_YnJva2Vu.json'), '{ not json');
    expect(await subject.store.list()).toEqual([
      { checkpointId: 'broken', steps: 0, checkpointMs: 0, unreadable: expect.stringContaining('not JSON') },
    ]);
    expect(await subject.store.save('broken', checkpointOf('broken', [echoed('a', 'new')]))).toBe('saved');
    const aside = readdirSync(folder()).filter((name) => name.startsWith('id_YnJva2Vu.json.unreadable-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(folder(), aside[0]!), 'utf8')).toBe('{ not json');
    expect((await subject.store.load('broken'))!.steps).toHaveLength(1);
  });

  const stepOf = (taskId: string, output: string) => ({ taskId, outcome: echoed(taskId, output) });
  const a3sFile = () => join(folder(), 'id_am91cm5hbA.json'); // "journal"
  const journalFile = () => join(folder(), 'id_am91cm5hbA.journal');
  const a3sTaskIds = () =>
    (JSON.parse(readFileSync(a3sFile(), 'utf8')) as { steps: { task_id: string }[] }).steps.map(
      (s) => s.task_id,
    );

  test('appends after the first go to a journal of JSON lines beside the a3s file, which a3s alone reads', async () => {
    const { store } = subject;
    await store.append('journal', { savedCount: 0, steps: [stepOf('a', 'a')] });
    expect(a3sTaskIds()).toEqual(['a']);
    await store.append('journal', { savedCount: 1, steps: [stepOf('b', 'b')] });
    await store.append('journal', { savedCount: 2, steps: [stepOf('c', 'c'), stepOf('d', 'd')] });
    // The a3s file still holds the first step: a3s would run b, c and d again, which is safe.
    expect(a3sTaskIds()).toEqual(['a']);
    const lines = readFileSync(journalFile(), 'utf8').trimEnd().split('\n');
    expect(
      lines.map((line) => (JSON.parse(line) as { steps: { task_id: string }[] }).steps.map((s) => s.task_id)),
    ).toEqual([['b'], ['c', 'd']]);
    expect(statSync(journalFile()).mode & 0o777).toBe(0o600);
    // Another store on the same folder (another worker process) reads file and journal together.
    const other = new FileSessionStore(subject.dir);
    expect((await other.load('journal'))!.steps.map((s) => s.taskId)).toEqual(['a', 'b', 'c', 'd']);
    await other.append('journal', { savedCount: 4, steps: [stepOf('e', 'e')] });
    // This store sees that write before its next append, rather than trusting what it knew.
    expect(await store.append('journal', { savedCount: 5, steps: [stepOf('f', 'f')] })).toBe('saved');
    expect((await store.load('journal'))!.steps.map((s) => s.taskId)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    await store.delete('journal');
    expect(readdirSync(folder())).toEqual([]);
  });

  test('opening the store removes the temp files of writers gone from this pid space, and only those', async () => {
    const { store } = subject;
    await store.ensureWritable();
    const target = join(folder(), 'id_am91cm5hbA.json');
    const exited = spawnSync(process.execPath, ['-e', '']).pid;
    const orphan = tempPathFor(target, exited);
    // A live writer's, and one whose pid means another host's or container's process.
    const live = tempPathFor(target);
    const ours = /\.tmp-([0-9a-f]{8})-/.exec(live)![1];
    const elsewhere = orphan.replace(
      `.tmp-${ours}-`,
      ours === '00000000' ? '.tmp-11111111-' : '.tmp-00000000-',
    );
    for (const path of [orphan, live, elsewhere]) writeFileSync(path, '{"schema_version": 1, "ste');
    await new FileSessionStore(subject.dir).ensureWritable();
    expect(readdirSync(folder()).sort()).toEqual([basename(elsewhere), basename(live)].sort());
  });

  test('a torn last journal line (a crash mid-write) is ignored, then cut by the next append', async () => {
    const { store } = subject;
    await store.append('journal', { savedCount: 0, steps: [stepOf('a', 'a')] });
    await store.append('journal', { savedCount: 1, steps: [stepOf('b', 'b')] });
    appendFileSync(journalFile(), '{"steps":[{"task_id":"c","outc');
    const fresh = new FileSessionStore(subject.dir);
    expect((await fresh.load('journal'))!.steps.map((s) => s.taskId)).toEqual(['a', 'b']);
    await fresh.append('journal', { savedCount: 2, steps: [stepOf('c', 'c')] });
    expect(readFileSync(journalFile(), 'utf8').split('\n').filter(Boolean)).toHaveLength(2);
    expect((await new FileSessionStore(subject.dir).load('journal'))!.steps.map((s) => s.taskId)).toEqual([
      'a',
      'b',
      'c',
    ]);
  });

  test('a complete journal line that does not decode makes the checkpoint unreadable; a new run sets both files aside', async () => {
    const { store } = subject;
    await store.append('journal', { savedCount: 0, steps: [stepOf('a', 'a')] });
    await store.append('journal', { savedCount: 1, steps: [stepOf('b', 'b')] });
    appendFileSync(journalFile(), '{"steps": "nonsense"}\n');
    await expect(new FileSessionStore(subject.dir).load('journal')).rejects.toThrow(/journal line 2/);
    expect(await store.append('journal', { savedCount: 2, steps: [stepOf('c', 'c')] })).toBe('missing-base');
    expect(await store.append('journal', { savedCount: 0, steps: [stepOf('a', 'a2')] })).toBe('saved');
    expect(readdirSync(folder()).filter((name) => name.includes('.unreadable-'))).toHaveLength(2);
    expect((await store.load('journal'))!.steps.map((s) => s.outcome.output)).toEqual(['a2']);
  });

  test('the journal is folded into the a3s file once it outgrows it; what is written stays linear in what is recorded', async () => {
    const { store } = subject;
    const output = 'x'.repeat(4096);
    let recorded = 0;
    for (let i = 0; i < 400; i++) {
      await store.append('journal', { savedCount: i, steps: [stepOf(`s${i}`, output)] });
      recorded += output.length;
    }
    const held = a3sTaskIds().length;
    // Folded at least once past the first step, and the journal holds at most twice the file's bytes.
    expect(held).toBeGreaterThan(1);
    const journalBytes = existsSync(journalFile()) ? statSync(journalFile()).size : 0;
    expect(journalBytes).toBeLessThanOrEqual(Math.max(256 * 1024, 2 * statSync(a3sFile()).size) + 5_000);
    expect((await new FileSessionStore(subject.dir).load('journal'))!.steps).toHaveLength(400);
    // Rewriting the whole file on every append would have written about 200× what was recorded.
    expect(store.bytesWritten / recorded).toBeLessThan(3);
  });

  test('the index comes from what this process wrote, and from the files again once another process wrote them', async () => {
    const { store } = subject;
    await store.append('journal', { savedCount: 0, steps: [stepOf('a', 'a')] });
    await store.append('journal', { savedCount: 1, steps: [stepOf('b', 'b')] });
    expect(await store.loadIndex('journal')).toEqual([{ taskId: 'a' }, { taskId: 'b' }]);
    const other = new FileSessionStore(subject.dir);
    await other.append('journal', { savedCount: 2, steps: [stepOf('c', 'c')] });
    expect(await store.loadIndex('journal')).toEqual([{ taskId: 'a' }, { taskId: 'b' }, { taskId: 'c' }]);
    // A journal line another process left half written is not part of it.
    appendFileSync(journalFile(), '{"steps": [');
    expect(await store.loadIndex('journal')).toEqual([{ taskId: 'a' }, { taskId: 'b' }, { taskId: 'c' }]);
    writeFileSync(a3sFile(), '{ not json');
    await expect(store.loadIndex('journal')).rejects.toThrow(/not JSON/);
  });

  test("a fold writes the file a piece at a time: byte for byte JSON.stringify's pretty form, a3s's fields kept", async () => {
    mkdirSync(folder(), { recursive: true });
    const fixture = JSON.parse(readFileSync(join(FIXTURES, 'a3s-9.1.3-with-receipt.json'), 'utf8'));
    writeFileSync(
      join(folder(), 'id_d2YtMQ.json'),
      JSON.stringify({ ...fixture, newer_field: { kept: [1, {}] } }, null, 2),
    );
    const output = 'line one\n"quoted"\t'.repeat(400);
    const loaded = (await subject.store.load('wf-1'))!;
    for (let i = 0; i < 60; i++) {
      await subject.store.append('wf-1', {
        savedCount: loaded.steps.length + i,
        steps: [stepOf(`s${i}`, output)],
      });
    }
    // 60 appends of 8 KB outgrow the 256 KB a journal may reach before it is folded.
    const text = readFileSync(join(folder(), 'id_d2YtMQ.json'), 'utf8');
    const document = JSON.parse(text);
    expect(document.steps.length).toBeGreaterThan(30);
    expect(text).toBe(JSON.stringify(document, null, 2));
    expect(document.steps[0].result_receipt).toEqual(fixture.steps[0].result_receipt);
    expect(Object.keys(document)).toEqual([...Object.keys(fixture), 'newer_field']);
    expect(document.newer_field).toEqual({ kept: [1, {}] });
    const reloaded = (await new FileSessionStore(subject.dir).load('wf-1'))!;
    expect(reloaded.steps.map((step) => step.outcome.output)).toEqual([
      loaded.steps[0]!.outcome.output,
      ...Array.from({ length: 60 }, () => output),
    ]);
  });

  test('ids the legacy file-name rule mapped to one file get one each; a legacy file belongs only to the id it records', async () => {
    await subject.store.save('a/b', checkpointOf('a/b', [echoed('x', 'from a/b')]));
    expect(await subject.store.load('a\\b')).toBeUndefined();
    await subject.store.save('a\\b', checkpointOf('a\\b', [echoed('y', 'from a\\b')]));
    expect((await subject.store.load('a/b'))!.steps[0]!.outcome.output).toBe('from a/b');
    expect((await subject.store.load('a\\b'))!.steps[0]!.outcome.output).toBe('from a\\b');

    // A legacy file recording p/q is p/q's, not that of p\\q, which the legacy rule maps to the same name.
    mkdirSync(legacyFolder());
    writeFileSync(
      join(legacyFolder(), 'p_q.json'),
      encodeA3sCheckpoint(checkpointOf('p/q', [echoed('z', 'p/q')])),
    );
    expect(await subject.store.load('p\\q')).toBeUndefined();
    await subject.store.delete('p\\q');
    expect(readdirSync(legacyFolder())).toEqual(['p_q.json']);
    expect((await subject.store.load('p/q'))!.steps[0]!.outcome.output).toBe('p/q');
  });
});

describe('file store: step states on disk', () => {
  let subject: ReturnType<typeof tempStore>;
  beforeEach(() => {
    subject = tempStore();
  });
  afterEach(() => subject.cleanup());
  const folder = () => join(subject.dir, 'step_states');
  const record = (seq: number) => ({
    attempt: 1,
    attemptScheduledMs: 5_000,
    seq,
    savedMs: 9_000,
    state: { prompt: 'a secret prompt', seq },
  });

  test('one owner-only file per step under <dir>/step_states, replaced whole, no temp files left; another process reads it', async () => {
    mkdirSync(folder(), { recursive: true, mode: 0o755 });
    chmodSync(subject.dir, 0o755);
    for (let seq = 1; seq <= 3; seq++) await subject.store.saveStepState('wf/run/7', record(seq));
    const files = readdirSync(folder());
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^[0-9a-f]{32}\.jsonl$/);
    for (const dir of [subject.dir, folder()]) expect(statSync(dir).mode & 0o777).toBe(0o700);
    const file = join(folder(), files[0]!);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const [header, state] = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(JSON.parse(header!)).toEqual({
      key: 'wf/run/7',
      attempt: 1,
      attemptScheduledMs: 5_000,
      seq: 3,
      savedMs: 9_000,
    });
    expect(JSON.parse(state!)).toEqual({ prompt: 'a secret prompt', seq: 3 });
    // A new store on the folder, as a replacement worker opens it.
    expect(await new FileSessionStore(subject.dir).loadStepState('wf/run/7')).toEqual(record(3));
    // Checkpoints do not see them, and a3s's folder is not touched.
    expect(await subject.store.list()).toEqual([]);
    expect(readdirSync(subject.dir)).toEqual(['step_states']);
  });

  test('an unreadable record is reported by load and list, and replaced by the next save', async () => {
    await subject.store.saveStepState('wf/run/7', record(1));
    const file = join(folder(), readdirSync(folder())[0]!);
    writeFileSync(file, '{"key": "wf/run/7", "attem');
    await expect(subject.store.loadStepState('wf/run/7')).rejects.toThrow(`step state ${file}`);
    expect(await subject.store.listStepStates()).toEqual([
      expect.objectContaining({ key: file, unreadable: expect.stringContaining('has no valid header') }),
    ]);
    expect(await subject.store.saveStepState('wf/run/7', record(2))).toBe('saved');
    expect(await subject.store.loadStepState('wf/run/7')).toEqual(record(2));
  });
});

describe('file store: step cache on disk', () => {
  let subject: ReturnType<typeof tempStore>;
  beforeEach(() => {
    subject = tempStore();
  });
  afterEach(() => subject.cleanup());
  const folder = () => join(subject.dir, 'step_cache');
  const entry = { key: 'sha256:ab', taskId: 'a', agent: 'explore', workflowId: 'run-1', savedMs: 1 };

  test('one owner-only file per entry; an unreadable one is a miss, listed by its path, and removed by it', async () => {
    await subject.store.putCached({ ...entry, outcome: echoed('a', 'do a') });
    const [name] = readdirSync(folder());
    expect(readdirSync(folder())).toEqual([expect.stringMatching(/^[0-9a-f]{32}\.json$/)]);
    expect(statSync(join(folder(), name!)).mode & 0o777).toBe(0o600);

    writeFileSync(join(folder(), name!), '{ torn');
    expect(await subject.store.getCached('sha256:ab', 2)).toBeUndefined();
    const [listed] = await subject.store.listCached();
    expect(listed).toMatchObject({
      key: join(folder(), name!),
      unreadable: expect.stringContaining('not JSON'),
    });
    expect(await subject.store.deleteCached('sha256:ab')).toBe(false);
    expect(await subject.store.deleteCached(listed!.key)).toBe(true);
    expect(readdirSync(folder())).toEqual([]);
  });
});
