/**
 * `tao gc` on a real dev server, with a file store and a blob directory, then
 * PostgreSQL and S3 (moto): a run that closed past the retention and a
 * running one share the stores, and one blob (the same large prompt). gc
 * removes the closed run's checkpoint, step state, expired cache entry, step
 * transcript and own blobs, and leaves every piece of the running one, which
 * then completes. A dry run (through the CLI) lists the same and removes
 * nothing. A run closed within the retention keeps its checkpoint, blobs and
 * transcript. Outcomes kept by reference go with their run's other state;
 * items uploaded by reference stay whole (manifest and pages) while a live
 * run's input names them.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { type BlobStore, openBlobStore } from '../../src/blobs';
import { type GarbageReport, collectGarbage } from '../../src/client';
import { claimCheckKey, taoDataConverter } from '../../src/codec';
import type { AgentStepSpecInput, StepOutcome } from '../../src/contracts';
import { uploadItems } from '../../src/items';
import { type OutcomeStore, createOutcomeStore } from '../../src/outcomes';
import type { AgentExecutor, StepContext } from '../../src/executors/executor';
import { FileSessionStore } from '../../src/stores/file-store';
import { PostgresSessionStore } from '../../src/stores/postgres-store';
import type { SessionStore } from '../../src/stores/session-store';
import { useStoreServers } from '../support/store-servers';
import { builtPackage, tao } from '../support/cli';
import { eventually } from '../support/gate-executor';
import { useTempDir } from '../support/temp-dir';
import { closeDevClient, devServerAddress, newNamespace, uniqueId, withWorker } from '../support/temporal';

// The CLI is compiled once per source change: seconds alone, minutes on a busy machine.
beforeAll(() => builtPackage(), 300_000);
afterAll(closeDevClient);

/** Past the claim-check threshold (128 KiB), so each such payload goes to the blob store. */
const BIG = 200 * 1024;
const sharedPrompt = 'shared '.padEnd(BIG, 's');

/**
 * `echo` answers its prompt's length; `hold` starts its transcript (through
 * the worker's writer, keyed as every step's is), saves a large state, then waits
 * until the test releases its run (a `stubborn` hold ignores cancellation, so
 * a terminated run leaves its state behind as a dead worker's step would).
 */
class HoldingAgent implements AgentExecutor {
  private readonly releases = new Map<string, () => void>();
  private readonly released = new Set<string>();

  concurrencyHint = () => 8;

  release(workflowId: string): void {
    this.released.add(workflowId);
    this.releases.get(workflowId)?.();
  }

  releaseAll(): void {
    [...this.releases.keys()].forEach((workflowId) => this.release(workflowId));
  }

  async executeStep(spec: AgentStepSpecInput, context: StepContext): Promise<StepOutcome> {
    const outcome = { taskId: spec.taskId, agent: spec.agent, sessionId: `s-${spec.taskId}`, success: true };
    if (spec.agent === 'echo') return { ...outcome, output: `read ${spec.prompt.length} chars` };
    // The running step reports large progress, so its heartbeat is a blob too (a large saved state no longer
    // rides in a beat when the store keeps it); the stubborn one beats on after its run closed (a dead worker
    // would not), so what it reports is small: a blob it renewed would cross the cut-off at random.
    const size = spec.agent === 'stubborn' ? 100 : BIG;
    context.events?.emit({ kind: 'attempt-start' });
    const notes = `${context.workflowId} `.padEnd(size, 'n');
    await context.saveState({ notes });
    context.heartbeat({ notes });
    if (!this.released.has(context.workflowId)) {
      await new Promise<void>((resolve, reject) => {
        this.releases.set(context.workflowId, resolve);
        if (spec.agent !== 'stubborn')
          context.signal.addEventListener('abort', () => reject(new Error('cancelled')));
      });
    }
    return { ...outcome, output: 'held, then done' };
  }
}

const echo = (
  taskId: string,
  prompt: string,
  extra: Partial<AgentStepSpecInput> = {},
): AgentStepSpecInput => ({
  taskId,
  agent: 'echo',
  prompt,
  ...extra,
});

const outcome = (seq: number): StepOutcome => ({
  taskId: `t${seq}`,
  agent: 'echo',
  sessionId: '',
  output: `outcome ${seq}`,
  success: true,
});

/** Every blob key a run's history refers to (a history is fetched as stored, not decoded). */
async function blobKeysOf(handle: WorkflowHandle): Promise<Set<string>> {
  const keys = new Set<string>();
  const raw = await handle.fetchHistory();
  for (const event of raw.events ?? []) {
    const attributes =
      event.activityTaskScheduledEventAttributes ?? event.workflowExecutionStartedEventAttributes;
    for (const payload of attributes?.input?.payloads ?? []) {
      const key = claimCheckKey(payload);
      if (key) keys.add(key);
    }
  }
  return keys;
}

const items = (report: GarbageReport) => ({
  checkpoints: report.checkpoints!.items,
  stepStates: report.stepStates!.items,
  cache: report.cache!.items,
  transcripts: report.transcripts!.items,
  blobs: report.blobs!.items,
  outcomes: report.outcomes!.items,
});

/** The run's outcomes in the store, by place. */
const outcomesOf = async (outcomes: OutcomeStore, workflowId: string) =>
  (await outcomes.list(workflowId, { limit: 100 })).map((e) => e.seq);

/**
 * Items uploaded by reference: `count` specs in pages of two; the manifest
 * key and the page keys, read from the manifest.
 */
async function uploaded(blobs: BlobStore, file: string, count: number) {
  writeFileSync(
    file,
    Array.from({ length: count }, (_, i) => JSON.stringify(echo(`i${i}`, file))).join('\n'),
  );
  const { blob } = await uploadItems(blobs, file, { pageItems: 2 });
  const manifest = JSON.parse(Buffer.from(await blobs.get(blob)).toString()) as { pages: { key: string }[] };
  return { manifest: blob, pages: manifest.pages.map((page) => page.key) };
}

/** Stores as the workers are given them, and the `--store` and `--blobs` a CLI would name them by. */
interface Backend {
  storeRef: string;
  blobsRef: string;
  store: SessionStore;
  blobs: BlobStore;
  /** What a `tao` process needs to reach them. */
  env: Record<string, string>;
}

interface Harness extends Backend {
  /** The outcome store beside `store`, as `--store` names it. */
  outcomes: OutcomeStore;
  /** Of its own, so that gc sees no other test's runs. */
  namespace: string;
  client: Client;
  agent: HoldingAgent;
  start(prefix: string, specs: AgentStepSpecInput[]): Promise<WorkflowHandleWithFirstExecutionRunId>;
  /** The step state a run's held step saved, once saved. */
  heldState(handle: WorkflowHandleWithFirstExecutionRunId): Promise<{ key: string }>;
  /** The held step's transcript, once its first event landed; as gc names it. */
  heldTranscript(handle: WorkflowHandle): Promise<string>;
  /** Every transcript the store holds, as gc names them. */
  transcripts(): Promise<string[]>;
  /** Waits until the run's checkpoint holds `steps` steps. */
  journaled(handle: WorkflowHandle, steps: number): Promise<unknown>;
}

/** Runs `body` with a worker on `backend`; held steps are let go whatever happens, so the worker can stop. */
async function withBackend(backend: Backend, body: (h: Harness) => Promise<void>): Promise<void> {
  const { store, blobs } = backend;
  const dataConverter = taoDataConverter({ blobs });
  const agent = new HoldingAgent();
  const outcomes = createOutcomeStore(backend.storeRef);
  const namespace = await newNamespace('gc');
  await withWorker(
    { executor: agent, store, dataConverter, namespace },
    async ({ client: raw, taskQueue }) => {
      const client = new Client({ connection: raw.connection, dataConverter, namespace });
      try {
        await body({
          ...backend,
          outcomes,
          namespace,
          client,
          agent,
          start: (prefix, specs) =>
            client.workflow.start('resumableParallelWorkflow', {
              taskQueue,
              workflowId: uniqueId(prefix),
              args: [{ specs }],
            }),
          heldState: (handle) =>
            eventually(async () =>
              (await store.listStepStates()).find((s) => s.key.includes(`/${handle.firstExecutionRunId}/`)),
            ),
          heldTranscript: (handle) =>
            eventually(async () =>
              (await store.transcripts!.readTranscript({ workflowId: handle.workflowId, taskId: 'hold' }))
                ? `${handle.workflowId}/hold`
                : undefined,
            ),
          transcripts: async () =>
            (await store.transcripts!.listTranscripts()).map((t) => `${t.workflowId}/${t.taskId}`),
          journaled: (handle, steps) =>
            eventually(async () =>
              (await store.load(handle.workflowId))?.steps.length === steps ? true : undefined,
            ),
        });
      } finally {
        agent.releaseAll();
        await Promise.all([store.close?.(), blobs.close?.(), outcomes.close?.()]);
      }
    },
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const tempDir = useTempDir('tao-gc');
const servers = useStoreServers();

const backends: { name: string; open: () => Promise<Backend> }[] = [
  {
    name: 'a file store and a blob directory',
    open: async () => {
      const [storeDir, blobDir] = [join(tempDir(), 'store'), join(tempDir(), 'blobs')];
      return {
        storeRef: `file:${storeDir}`,
        blobsRef: blobDir,
        store: new FileSessionStore(storeDir),
        blobs: openBlobStore(blobDir),
        env: {},
      };
    },
  },
  {
    name: 'PostgreSQL and S3',
    open: async () => {
      // A prefix of its own: the bucket outlives the test.
      const blobsRef = `s3://${servers.s3.bucket}/gc-${randomUUID()}`;
      return {
        storeRef: servers.postgres.url,
        blobsRef,
        store: await PostgresSessionStore.connect(servers.postgres.url),
        blobs: openBlobStore(blobsRef),
        env: servers.s3.env,
      };
    },
  },
];

describe.each(backends)('tao gc on $name', ({ open }) => {
  test('removes what a run closed past the retention left, and nothing a running run needs', async () => {
    await withBackend(await open(), async (h) => {
      // The closed run: a shared prompt, one of its own, a cache entry that expires at once, a step held.
      const closed = await h.start('gc-closed', [
        echo('shared', sharedPrompt),
        echo('own', 'own '.padEnd(BIG, 'o')),
        echo('cached', 'cache me', { cache: { ttlMs: 1 } }),
        { taskId: 'hold', agent: 'stubborn', prompt: 'hold' },
      ]);
      const closedState = await h.heldState(closed);
      const closedTranscript = await h.heldTranscript(closed);
      await h.journaled(closed, 3);
      await closed.terminate('closed for the test');

      // The running run shares the prompt, so its step's input is the same blob.
      const running = await h.start('gc-running', [
        echo('shared', sharedPrompt),
        { taskId: 'hold', agent: 'hold', prompt: 'hold' },
      ]);
      const runningState = await h.heldState(running);
      const runningTranscript = await h.heldTranscript(running);
      await h.journaled(running, 1);
      // Its held step's heartbeat carries the large state: a blob only the server's pending activity names.
      const beat = await eventually(async () => {
        const details = (await running.describe()).raw.pendingActivities?.[0]?.heartbeatDetails
          ?.payloads?.[0];
        return details && claimCheckKey(details);
      });

      // Outcomes kept by reference: the closed run's, the running run's, and a run the server never had.
      const orphan = uniqueId('gc-orphan');
      for (const run of [closed.workflowId, running.workflowId, orphan]) {
        for (const seq of [0, 1])
          await h.outcomes.put(run, seq, { ...outcome(seq), taskId: `${run}-${seq}` });
      }
      // Items by reference: one set a live run's input names, one no run names. A run of a type of
      // another team's, on a queue no worker polls, stays open and names its source in its input.
      const liveItems = await uploaded(h.blobs, join(tempDir(), 'live.jsonl'), 5);
      const strayItems = await uploaded(h.blobs, join(tempDir(), 'stray.jsonl'), 3);
      const reader = await h.client.workflow.start('someoneElsesWorkflow', {
        taskQueue: uniqueId('no-worker'),
        workflowId: uniqueId('gc-reader'),
        args: [{ batch: { source: { blob: liveItems.manifest } } }],
      });

      const closedKeys = await blobKeysOf(closed);
      const runningKeys = await blobKeysOf(running);
      expect([...closedKeys].filter((key) => runningKeys.has(key))).toHaveLength(1);
      const closedOnly = [...closedKeys].filter((key) => !runningKeys.has(key));
      expect(closedOnly.length).toBeGreaterThan(0);

      // Everything above is now older than the retention; only the running run's use keeps its part.
      await sleep(2_500);
      // The CLI, as an operator runs it, on the workers' stores (TAO_STORE, TAO_BLOBS).
      const dryRun = (...flags: string[]) =>
        tao(
          [
            'gc',
            '--dry-run',
            '--older-than',
            '2s',
            '--address',
            devServerAddress(),
            '--namespace',
            h.namespace,
            ...flags,
          ],
          {
            env: { ...h.env, TAO_STORE: h.storeRef, TAO_BLOBS: h.blobsRef },
          },
        );
      const dry = await dryRun('--json');
      expect(dry.stderr).toBe('');
      expect(dry.code).toBe(0);
      const planned = JSON.parse(dry.stdout) as GarbageReport;
      expect(planned.dryRun).toBe(true);
      expect(planned.checkpoints!.items).toEqual([closed.workflowId]);
      expect(planned.stepStates!.items).toEqual([closedState.key]);
      expect(planned.cache!.count).toBe(1);
      // The running run's step started its transcript as long ago, and keeps it: its run is live.
      expect(planned.transcripts!.items).toEqual([closedTranscript]);
      expect(planned.transcripts!.bytes).toBeGreaterThan(0);
      for (const key of closedOnly) expect(planned.blobs!.items).toContain(key);
      for (const key of [...runningKeys, beat]) expect(planned.blobs!.items).not.toContain(key);
      expect(planned.blobs!.bytes).toBeGreaterThan(BIG);
      expect(planned.outcomes!.items).toEqual([closed.workflowId, orphan].sort());
      for (const key of [strayItems.manifest, ...strayItems.pages])
        expect(planned.blobs!.items).toContain(key);
      for (const key of [liveItems.manifest, ...liveItems.pages]) {
        expect(planned.blobs!.items).not.toContain(key);
      }
      // Nothing went.
      expect(await h.store.load(closed.workflowId)).toBeDefined();
      expect((await h.store.listStepStates()).map((s) => s.key)).toContain(closedState.key);
      expect((await h.transcripts()).sort()).toEqual([closedTranscript, runningTranscript].sort());
      expect(await h.blobs.get(closedOnly[0]!)).toBeDefined();

      expect(await outcomesOf(h.outcomes, closed.workflowId)).toEqual([0, 1]);

      const report = await collectGarbage(h.client, {
        olderThan: '2s',
        store: h.store,
        blobs: h.blobs,
        outcomes: h.outcomes,
      });
      expect(report.dryRun).toBe(false);
      expect(items(report)).toEqual(items(planned));
      expect(await outcomesOf(h.outcomes, closed.workflowId)).toEqual([]);
      expect(await outcomesOf(h.outcomes, orphan)).toEqual([]);
      expect(await outcomesOf(h.outcomes, running.workflowId)).toEqual([0, 1]);
      for (const key of [liveItems.manifest, ...liveItems.pages])
        expect(await h.blobs.get(key)).toBeDefined();
      await expect(h.blobs.get(strayItems.manifest)).rejects.toThrow(/not found/);

      expect(await h.store.load(closed.workflowId)).toBeUndefined();
      expect(await h.store.load(running.workflowId)).toBeDefined();
      expect((await h.store.listStepStates()).map((s) => s.key)).toEqual([runningState.key]);
      expect(await h.store.listCached!()).toEqual([]);
      expect(await h.transcripts()).toEqual([runningTranscript]);
      for (const key of closedOnly) await expect(h.blobs.get(key)).rejects.toThrow(/not found/);
      for (const key of [...runningKeys, beat]) expect(await h.blobs.get(key)).toBeDefined();

      // A second pass finds nothing more: what is left is the running run's.
      const again = await dryRun();
      expect(again.stdout).toMatch(
        /^dry run: nothing removed; state of runs closed before \S+ \(\d+ live executions read\)\n/,
      );
      expect(again.stdout).toMatch(/│ cache entries +│ 0 /);
      expect(again.stdout).toMatch(/│ transcripts +│ 0 /);
      expect(again.stdout).toMatch(/│ run outcomes +│ 0 /);
      expect(again.stdout).not.toMatch(/^(checkpoint|step state|cache entry|transcript|blob|outcomes) /m);

      // Only now: a run that just closed may be missing from visibility for a moment, and its items with it.
      await reader.terminate('done with the test');

      // The running run goes on, from its large payloads too, and ends well.
      h.agent.release(running.workflowId);
      const outcomes: StepOutcome[] = await running.result();
      expect(outcomes.map((o) => [o.taskId, o.success, o.output])).toEqual([
        ['shared', true, `read ${BIG} chars`],
        ['hold', true, 'held, then done'],
      ]);
    });
  });
});

test('a run closed within the retention keeps its checkpoint, blobs and transcript, however old they are', async () => {
  const backend = await backends[0]!.open();
  await withBackend(backend, async (h) => {
    const recent = await h.start('gc-recent', [
      echo('own', 'recent '.padEnd(BIG, 'r')),
      { taskId: 'hold', agent: 'stubborn', prompt: 'hold' },
    ]);
    const state = await h.heldState(recent);
    const transcript = await h.heldTranscript(recent);
    await h.journaled(recent, 1);
    const keys = await blobKeysOf(recent);
    expect(keys.size).toBeGreaterThan(0);
    await h.outcomes.put(recent.workflowId, 0, outcome(0));
    await sleep(2_500);
    // Closed just now: a rerun may still read it, and a new run resume its checkpoint.
    await recent.terminate('closed for the test');

    const report = await collectGarbage(h.client, {
      olderThan: '2s',
      store: h.store,
      blobs: h.blobs,
      outcomes: h.outcomes,
    });
    expect(report.checkpoints!.items).not.toContain(recent.workflowId);
    expect(report.outcomes!.items).not.toContain(recent.workflowId);
    expect(await outcomesOf(h.outcomes, recent.workflowId)).toEqual([0]);
    expect(await h.store.load(recent.workflowId)).toBeDefined();
    expect(report.transcripts!.items).not.toContain(transcript);
    expect(await h.transcripts()).toContain(transcript);
    for (const key of keys) {
      expect(report.blobs!.items).not.toContain(key);
      expect(await h.blobs.get(key)).toBeDefined();
    }
    // Its step will never be retried: the state goes once older than the retention.
    expect(report.stepStates!.items).toContain(state.key);
  });
});

test('a wrong --older-than is one line naming the fix, before anything connects', async () => {
  for (const value of ['7', 'soon', '-1d']) {
    const run = await tao(['gc', '--older-than', value, '--address', '127.0.0.1:9']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `tao: invalid --older-than "${value}": give a positive duration with a unit, such as 7d, 12h or 90m\n`,
    );
  }
});
