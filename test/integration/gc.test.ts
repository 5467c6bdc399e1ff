/**
 * `tao gc` on a real dev server, file stores and a blob directory: a run that
 * closed past the retention and a running one share the stores, and one blob
 * (the same large prompt). gc removes the closed run's checkpoint, step state,
 * expired cache entry and own blobs, and leaves every piece of the running
 * one, which then completes. A dry run (through the CLI) lists the same and
 * removes nothing.
 */
import { join } from 'node:path';
import { Client, type WorkflowHandle } from '@temporalio/client';
import { FileBlobStore } from '../../src/blobs';
import { type GarbageReport, collectGarbage } from '../../src/client';
import { claimCheckKey, taoDataConverter } from '../../src/codec';
import type { AgentStepSpecInput, StepOutcome } from '../../src/contracts';
import type { AgentExecutor, StepContext } from '../../src/executors/executor';
import { FileSessionStore } from '../../src/stores/file-store';
import { builtPackage, tao } from '../support/cli';
import { eventually } from '../support/gate-executor';
import { useTempDir } from '../support/temp-dir';
import { closeDevClient, devClient, devServerAddress, uniqueId, withWorker } from '../support/temporal';

// The CLI is compiled once per source change: seconds alone, minutes on a busy machine.
beforeAll(() => builtPackage(), 300_000);
afterAll(closeDevClient);

/** Past the claim-check threshold (128 KiB), so each such payload goes to the blob store. */
const BIG = 200 * 1024;
const sharedPrompt = 'shared '.padEnd(BIG, 's');

/**
 * `echo` answers its prompt's length; `hold` saves a large state, then waits
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
    await context.saveState({ notes: `${context.workflowId} `.padEnd(BIG, 'n') });
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

/** Every blob key a run's history refers to, read without the codec. */
async function blobKeysOf(handle: WorkflowHandle): Promise<Set<string>> {
  const keys = new Set<string>();
  const raw = await (await devClient()).workflow.getHandle(handle.workflowId).fetchHistory();
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
  blobs: report.blobs!.items,
});

describe('tao gc', () => {
  const tempDir = useTempDir('tao-gc');

  test('removes what a run closed past the retention left, and nothing a running run needs', async () => {
    const storeDir = join(tempDir(), 'store');
    const blobDir = join(tempDir(), 'blobs');
    const store = new FileSessionStore(storeDir);
    const blobs = new FileBlobStore(blobDir);
    const dataConverter = taoDataConverter({ blobs });
    const agent = new HoldingAgent();
    await withWorker({ executor: agent, store, dataConverter }, async ({ client: raw, taskQueue }) => {
      const client = new Client({ connection: raw.connection, dataConverter });
      // Held steps are let go whatever happens, so that the worker can stop.
      try {
        const start = (prefix: string, specs: AgentStepSpecInput[]) =>
          client.workflow.start('resumableParallelWorkflow', {
            taskQueue,
            workflowId: uniqueId(prefix),
            args: [{ specs }],
          });
        const heldState = (runId: string) =>
          eventually(async () => (await store.listStepStates()).find((s) => s.key.includes(`/${runId}/`)));

        // The closed run: a shared prompt, one of its own, a cache entry that expires at once, a step held.
        const closed = await start('gc-closed', [
          echo('shared', sharedPrompt),
          echo('own', 'own '.padEnd(BIG, 'o')),
          echo('cached', 'cache me', { cache: { ttlMs: 1 } }),
          { taskId: 'hold', agent: 'stubborn', prompt: 'hold' },
        ]);
        const closedState = await heldState(closed.firstExecutionRunId);
        await eventually(async () =>
          (await store.load(closed.workflowId))?.steps.length === 3 ? true : undefined,
        );
        await closed.terminate('closed for the test');

        // The running run shares the prompt, so its step's input is the same blob.
        const running = await start('gc-running', [
          echo('shared', sharedPrompt),
          { taskId: 'hold', agent: 'hold', prompt: 'hold' },
        ]);
        const runningState = await heldState(running.firstExecutionRunId);
        await eventually(async () =>
          (await store.load(running.workflowId))?.steps.length === 1 ? true : undefined,
        );

        const closedKeys = await blobKeysOf(closed);
        const runningKeys = await blobKeysOf(running);
        const shared = [...closedKeys].filter((key) => runningKeys.has(key));
        expect(shared).toHaveLength(1);
        const closedOnly = [...closedKeys].filter((key) => !runningKeys.has(key));
        expect(closedOnly.length).toBeGreaterThan(0);

        // Everything above is now older than the retention; only the running run's use keeps its part.
        await new Promise((resolve) => setTimeout(resolve, 2_500));
        const flags = ['--older-than', '2s', '--address', devServerAddress(), '--store', `file:${storeDir}`];
        const dry = await tao(['gc', '--dry-run', '--json', ...flags, '--blobs', blobDir]);
        expect(dry.stderr).toBe('');
        expect(dry.code).toBe(0);
        const planned = JSON.parse(dry.stdout) as GarbageReport;
        expect(planned.dryRun).toBe(true);
        expect(planned.checkpoints!.items).toEqual([closed.workflowId]);
        expect(planned.stepStates!.items).toEqual([closedState.key]);
        expect(planned.cache!.count).toBe(1);
        for (const key of closedOnly) expect(planned.blobs!.items).toContain(key);
        for (const key of runningKeys) expect(planned.blobs!.items).not.toContain(key);
        expect(planned.blobs!.bytes).toBeGreaterThan(BIG);
        // Nothing went.
        expect(await store.load(closed.workflowId)).toBeDefined();
        expect((await store.listStepStates()).map((s) => s.key)).toContain(closedState.key);
        expect(await blobs.get(closedOnly[0]!)).toBeDefined();

        const report = await collectGarbage(client, { olderThan: '2s', store, blobs });
        expect(report.dryRun).toBe(false);
        expect(items(report)).toEqual(items(planned));

        expect(await store.load(closed.workflowId)).toBeUndefined();
        expect(await store.load(running.workflowId)).toBeDefined();
        expect((await store.listStepStates()).map((s) => s.key)).toEqual([runningState.key]);
        expect(await store.listCached()).toEqual([]);
        for (const key of closedOnly) await expect(blobs.get(key)).rejects.toThrow(/not found/);
        for (const key of runningKeys) expect(await blobs.get(key)).toBeDefined();

        // The running run goes on, from its large payloads too, and ends well.
        agent.release(running.workflowId);
        const outcomes: StepOutcome[] = await running.result();
        expect(outcomes.map((o) => [o.taskId, o.success, o.output])).toEqual([
          ['shared', true, `read ${BIG} chars`],
          ['hold', true, 'held, then done'],
        ]);
      } finally {
        agent.releaseAll();
      }
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
});
