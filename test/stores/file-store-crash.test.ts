/**
 * The file store under real crashes: a process (test/support/store-writer-main.ts)
 * appends steps without pause, folding journals into a3s files as it goes,
 * and is SIGKILLed at seeded moments, mid-append and mid-fold among them;
 * after each kill the store must read, hold every step the process
 * acknowledged with its outcome whole, and present nothing written in part.
 * A new process then carries on from what is there, over what the kill left.
 * No kill tears a journal line (a line is one write(2), which SIGKILL does
 * not cut): the torn line a power cut can leave is file-store.test.ts's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { type FSWatcher, readdirSync, watch } from 'node:fs';
import { join } from 'node:path';
import { FileSessionStore } from '../../src/stores/file-store';
import { STEPS_PER_CHECKPOINT, checkpointName, outcomeOf, taskName } from '../support/store-writer-main';
import { useTempDir } from '../support/temp-dir';

const SEEDS = [1, 2, 3];
const KILLS_PER_SEED = 12;

/** Small, seedable, and the same in every Node: mulberry32. */
function random(seed: number): (below: number) => number {
  let state = seed >>> 0;
  return (below) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * below);
  };
}

/**
 * When to kill, each counted from the process's start: on the `count`th
 * write to the temp file of a fold (or a checkpoint's first write), with
 * more of it to come, so mid-rewrite; on the `count`th change to a journal,
 * before the append is acknowledged; or right after its `count`th ack, while
 * the next append is under way.
 */
type KillPoint = { on: 'fold' | 'journal' | 'ack'; count: number };

function killPoint(next: (below: number) => number): KillPoint {
  const on = (['fold', 'journal', 'ack'] as const)[next(3)]!;
  return { on, count: 1 + next(on === 'fold' ? 2 : 8) };
}

const live = new Set<ChildProcess>();
afterAll(() => {
  for (const child of live) child.kill('SIGKILL');
});

/** Runs a writer on `dir` until `point`, then SIGKILLs it; resolves to its pid and what it acknowledged. */
async function runUntilKilled(
  dir: string,
  folder: string,
  point: KillPoint,
): Promise<{ pid: number; acks: [string, string][] }> {
  const child = spawn(
    process.execPath,
    [
      '--require',
      join(__dirname, '../support/swc-register.js'),
      join(__dirname, '../support/store-writer-main.ts'),
      dir,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  live.add(child);
  const acks: [string, string][] = [];
  let stderr = '';
  let seen = 0;
  let watcher: FSWatcher | undefined;
  // 'close', not 'exit': only then has every ack it wrote been read from its stdout.
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const kill = () => {
    watcher?.close();
    child.kill('SIGKILL');
  };
  const count = () => {
    if (++seen === point.count) kill();
  };
  if (point.on !== 'ack') {
    watcher = watch(folder, (event, name) => {
      if (point.on === 'fold' ? event === 'change' && name?.includes('.tmp-') : name?.endsWith('.journal'))
        count();
    });
  }
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      const [, checkpointId, taskId] = line.split(' ');
      acks.push([checkpointId!, taskId!]);
      if (point.on === 'ack') count();
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await closed;
  live.delete(child);
  watcher?.close();
  // Only our SIGKILL may end it: an exit of its own is the store failing.
  if (code !== null) throw new Error(`the writer exited (${code}) before the kill: ${stderr.trim()}`);
  return { pid: child.pid!, acks };
}

/**
 * Checks the store holds every step it held before the kill and every one
 * acknowledged since, whole, and at most the one in flight besides; resolves
 * to how many steps each checkpoint now holds.
 */
async function checkStore(
  dir: string,
  before: Map<string, number>,
  acks: [string, string][],
): Promise<Map<string, number>> {
  const store = new FileSessionStore(dir);
  const unreadable = (await store.list()).filter((summary) => summary.unreadable !== undefined);
  expect(unreadable).toEqual([]);
  const finished = new Map(before);
  for (const [checkpointId, taskId] of acks) {
    finished.set(checkpointId, Math.max(finished.get(checkpointId) ?? 0, Number(taskId.split('-')[1]) + 1));
  }
  const held = new Map<string, number>();
  // The writer fills checkpoints in order: the one after the last it touched may hold its first step.
  for (let n = 0; n <= finished.size; n++) {
    const checkpointId = checkpointName(n);
    const steps = (await store.load(checkpointId))?.steps ?? [];
    // One writer, one step at a time: a prefix of the tasks, every outcome as written.
    expect(steps.map((step) => step.taskId)).toEqual(steps.map((_, i) => taskName(i)));
    for (const step of steps) expect(step.outcome).toEqual(outcomeOf(step.taskId));
    const least = finished.get(checkpointId) ?? 0;
    expect(steps.length).toBeGreaterThanOrEqual(least);
    // The step being appended when the kill came may have landed too, whole.
    expect(steps.length).toBeLessThanOrEqual(Math.min(least + 1, STEPS_PER_CHECKPOINT));
    if (steps.length > 0) held.set(checkpointId, steps.length);
  }
  return held;
}

const tempDir = useTempDir('tao-store-crash');

test.each(SEEDS)(
  `seed %i: ${KILLS_PER_SEED} SIGKILLs of a process appending and folding leave a store that reads, with every acknowledged step whole`,
  async (seed) => {
    const dir = tempDir();
    const store = new FileSessionStore(dir);
    await store.ensureWritable();
    const next = random(seed);
    let held = new Map<string, number>();
    let acked = 0;
    for (let kill = 1; kill <= KILLS_PER_SEED; kill++) {
      const point = killPoint(next);
      try {
        const { pid, acks } = await runUntilKilled(dir, store.folder, point);
        acked += acks.length;
        // A rewrite the kill cut short leaves its temp file; the next writer clears it on opening the store.
        const temps = readdirSync(store.folder).filter((name) => name.includes('.tmp-'));
        expect(temps.filter((name) => !name.includes(`-${pid}-`))).toEqual([]);
        held = await checkStore(dir, held, acks);
      } catch (error) {
        (error as Error).message =
          `seed ${seed}, kill ${kill} (${JSON.stringify(point)}): ${(error as Error).message}`;
        throw error;
      }
    }
    // The processes made progress through the kills, past more than one fold.
    expect(acked).toBeGreaterThan(STEPS_PER_CHECKPOINT);
  },
);
