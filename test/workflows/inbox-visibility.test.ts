/**
 * The inbox reads visibility, not every workflow: in a namespace shared with
 * 300 running workflows of another team (whose worker counts every query it
 * gets), `pendingDecisions` and `tao pending` list exactly the TAO run's
 * waiting steps and send those workflows no query at all. On its own
 * namespace of the dev server, so that no other test's runs are listed;
 * `tao setup --address` registers the search attribute there, which a
 * worker's start-up check finds missing before.
 */
import { Client } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { NativeConnection, Worker } from '@temporalio/worker';
import { approveStep, pendingDecisions } from '../../src/client';
import { waitingRunsQuery } from '../../src/client/steer';
import { registerWaitingAttribute, waitingAttributeWarning } from '../../src/connection/waiting-attribute';
import { ScriptExecutor } from '../../src/executors/script';
import { MemorySessionStore } from '../../src/stores/memory-store';
import { createTaoWorker } from '../../src/worker';
import { startTao, stopTaoProcesses, tao } from '../support/cli';
import { eventually } from '../support/gate-executor';
import { spec } from '../support/specs';
import { closeDevClient, devClient, devServerAddress, uniqueId, workflowBundle } from '../support/temporal';
import { finishForeignSignal } from '../support/test-workflows';

const FOREIGN = 300;

afterAll(async () => {
  await stopTaoProcesses();
  await closeDevClient();
});

/** `work` on every item, `limit` at a time, results in order. */
async function inBatches<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>) {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += limit) {
    results.push(...(await Promise.all(items.slice(i, i + limit).map(work))));
  }
  return results;
}

interface NewNamespace {
  namespace: string;
  native: NativeConnection;
  client: Client;
  /** The worker's start-up line, before the attribute is registered. */
  warning: string;
}

/** `body` on a namespace of its own on the dev server, new, so without TaoWaitingSteps. */
async function withNewNamespace(prefix: string, body: (ns: NewNamespace) => Promise<void>) {
  const namespace = uniqueId(prefix);
  const dev = await devClient();
  await dev.workflowService.registerNamespace({
    namespace,
    workflowExecutionRetentionPeriod: msToTs('1 day'),
  });
  const native = await NativeConnection.connect({ address: devServerAddress() });
  try {
    // Until the server's namespace cache has it, the check cannot read it.
    const warning = await eventually(async () => {
      const line = await waitingAttributeWarning(native, namespace);
      return line?.includes('has no search attribute') ? line : undefined;
    });
    await body({ namespace, native, client: new Client({ connection: dev.connection, namespace }), warning });
  } finally {
    await native.close();
  }
}

const taoWorker = (native: NativeConnection, namespace: string, taskQueue: string) =>
  createTaoWorker({
    connection: native,
    namespace,
    taskQueue,
    executor: new ScriptExecutor(),
    store: new MemorySessionStore(),
    workflowBundle: workflowBundle(),
  });

test(`with ${FOREIGN} foreign workflows running, the inbox lists the TAO run's waiting steps and queries none of them`, async () => {
  const address = devServerAddress();
  await withNewNamespace('inbox', async ({ namespace, native, client, warning }) => {
    // A new namespace has no TaoWaitingSteps: the worker's check says so, with the fix.
    expect(warning).toBe(
      `namespace ${namespace} has no search attribute TaoWaitingSteps: a run stops at its first step waiting for a decision until it is registered; register it with tao setup --address <host:port> --namespace ${namespace}, or temporal operator search-attribute create --name TaoWaitingSteps --type KeywordList --namespace ${namespace}`,
    );
    const setup = await tao(['setup', '--address', address, '--namespace', namespace]);
    expect(setup.stdout).toBe(
      `registered search attribute TaoWaitingSteps (KeywordList) in namespace ${namespace}\n`,
    );
    expect((await tao(['setup', '--address', address, '--namespace', namespace])).stdout).toMatch(
      /^already registered: search attribute TaoWaitingSteps/,
    );
    await expect(waitingAttributeWarning(native, namespace)).resolves.toBeUndefined();

    const foreignQueue = uniqueId('other-team');
    const foreignWorker = await Worker.create({
      connection: native,
      namespace,
      taskQueue: foreignQueue,
      workflowBundle: workflowBundle(),
      // Every foreign run stays cached, so its query count is never lost to a replay.
      maxCachedWorkflows: FOREIGN + 100,
    });
    const taoQueue = uniqueId('tao');
    const worker = await taoWorker(native, namespace, taoQueue);

    await foreignWorker.runUntil(
      worker.runUntil(async () => {
        const foreign = await inBatches(
          Array.from({ length: FOREIGN }, (_, i) => `other-team-${i}`),
          25,
          (workflowId) =>
            client.workflow.start('foreignWorkflow', { taskQueue: foreignQueue, workflowId, args: [] }),
        );
        const workflowId = uniqueId('approvals');
        const run = await client.workflow.start('parallelWorkflow', {
          taskQueue: taoQueue,
          workflowId,
          args: [
            {
              specs: [
                { ...spec('deploy'), approval: { before: true } },
                { ...spec('migrate'), approval: { before: true } },
                spec('test'),
              ],
            },
          ],
        });

        const expected = [
          { workflowId, taskId: 'deploy', agent: 'explore', decision: 'before' },
          { workflowId, taskId: 'migrate', agent: 'explore', decision: 'before' },
        ];
        const listed = await eventually(async () => {
          const result = await pendingDecisions(client);
          return result.pending.length === expected.length ? result : undefined;
        });
        expect(listed).toEqual({ pending: expected, unanswered: [] });
        // One visibility query finds the one run with waiting steps, not the foreign ones.
        const runs = [];
        for await (const found of client.workflow.list({ query: waitingRunsQuery() }))
          runs.push(found.workflowId);
        expect(runs).toEqual([workflowId]);

        const inProcess = Date.now();
        await pendingDecisions(client, { withText: true });
        const inProcessMs = Date.now() - inProcess;
        const started = Date.now();
        const cli = await tao(['pending', '--address', address, '--namespace', namespace]);
        const elapsed = Date.now() - started;
        console.log(
          `pendingDecisions (with text) with ${FOREIGN} foreign running workflows: ${inProcessMs} ms`,
        );
        console.log(
          `tao pending with ${FOREIGN} foreign running workflows: ${elapsed} ms (process start included)`,
        );
        expect(cli.stdout).toContain(`${workflowId}  deploy  (explore)  waiting to start`);
        expect(cli.stdout).toContain(`${workflowId}  migrate  (explore)  waiting to start`);
        expect(cli.stderr).not.toContain('no worker answered');

        // The count works: one query sent to one foreign run is counted there.
        await expect(foreign[0]!.query('anything')).resolves.toBeNull();
        const counts = await inBatches(foreign, 25, async (handle) => {
          await handle.signal(finishForeignSignal);
          return (await handle.result()) as number;
        });
        expect(counts[0]).toBe(1);
        expect(counts.slice(1).filter((n) => n !== 0)).toEqual([]);

        await run.terminate('test over');
      }),
    );
  });
}, 300_000);

test('a run on a namespace without the attribute stops at its first wait, and goes on once it is registered', async () => {
  await withNewNamespace('no-attribute', async ({ namespace, native, client, warning }) => {
    // `tao worker` says so at its start, in one line.
    const cliWorker = startTao(
      ['worker', '--task-queue', uniqueId('cli'), '--store', 'memory', '--address', devServerAddress()],
      { env: { TEMPORAL_NAMESPACE: namespace } },
    );
    await cliWorker.waitFor(`${warning}\n`, 60_000);
    await cliWorker.stop();
    const taskQueue = uniqueId('tao');
    const worker = await taoWorker(native, namespace, taskQueue);
    await worker.runUntil(async () => {
      const run = await client.workflow.start('parallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('stopped'),
        args: [{ specs: [{ ...spec('deploy'), approval: { before: true } }] }],
      });
      const failure = await eventually(async () => {
        const events = (await run.fetchHistory()).events ?? [];
        return events.find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes;
      });
      expect(failure?.failure?.message).toMatch(/TaoWaitingSteps/);
      const stoppedAt = Date.now();
      await registerWaitingAttribute(client.connection, namespace);
      await eventually(
        async () => ((await pendingDecisions(client)).pending.length === 1 ? true : undefined),
        120_000,
      );
      console.log(
        `a run stopped on the missing attribute went on ${Date.now() - stoppedAt} ms after it was registered`,
      );
      await approveStep(run, { taskId: 'deploy' });
      await expect(run.result()).resolves.toMatchObject([{ taskId: 'deploy', success: true }]);
    });
  });
}, 300_000);
