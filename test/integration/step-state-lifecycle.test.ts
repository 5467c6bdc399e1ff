/**
 * What becomes of an llm step's state in the checkpoint store when its run
 * ends mid-step: a live worker hears that the activity is gone and removes
 * it; a run terminated while its worker was down leaves it behind, where
 * `tao checkpoint step-states` shows it and `tao checkpoint rm-step-state`
 * removes it.
 */
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { FileSessionStore } from '../../src/stores/file-store';
import { tao } from '../support/cli';
import type { FakeServer } from '../support/fake-http';
import { eventually } from '../support/gate-executor';
import { PROTOCOLS, fakeExecutor, makeWorkspace } from '../support/llm-harness';
import { useTempDir } from '../support/temp-dir';
import { TICKING_SPEC, tickingAnswer, turnOf } from '../support/ticking-agent';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const protocol = PROTOCOLS[0]!;
const dir = useTempDir('tao-step-state');
const shellAgent = { agents: { shell: { systemPrompt: 'You tick.', tools: ['run_shell' as const] } } };

let server: FakeServer;
beforeEach(async () => {
  // Turn 1 calls a tool; turn 2 never comes back.
  server = await protocol.start((request) =>
    turnOf(request) === 1 ? tickingAnswer(protocol, 1, 10) : { hang: true },
  );
});
afterEach(() => server.close());

/**
 * Runs the ticking step on an in-process worker until turn 2 is in flight and
 * the state before it is in the store, then calls `then` with the worker still up.
 */
async function untilTurn2(store: FileSessionStore, then: (handle: WorkflowHandle) => Promise<void>) {
  const executor = await fakeExecutor(protocol, server, makeWorkspace().root, shellAgent);
  await withWorker({ executor, store }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('step-state'),
      args: [{ specs: [TICKING_SPEC], stepPolicy: { heartbeatTimeoutMs: 1_000 } }],
    });
    await eventually(async () =>
      server.requests.length === 2 && (await store.listStepStates()).length === 1 ? true : undefined,
    );
    await then(handle);
  });
}

test('a run terminated mid-step while its worker is up: the worker removes the step state', async () => {
  const store = new FileSessionStore(join(dir(), 'live'));
  await untilTurn2(store, async (handle) => {
    const [held] = await store.listStepStates();
    const { raw } = await handle.describe();
    const activityId = raw.pendingActivities?.[0]?.activityId;
    // The turn-1 answer and its tool result, under the step's workflow, run and activity ids.
    expect(held).toMatchObject({
      key: `${handle.workflowId}/${raw.workflowExecutionInfo?.execution?.runId}/${activityId}`,
      attempt: 1,
      seq: 2,
    });
    await handle.terminate('changed my mind');
    await eventually(async () => ((await store.listStepStates()).length === 0 ? true : undefined));
  });
});

test('a run terminated while its worker was down leaves the step state; tao checkpoint lists it and removes it', async () => {
  const storeDir = join(dir(), 'down');
  const store = new FileSessionStore(storeDir);
  let handle: WorkflowHandle | undefined;
  await untilTurn2(store, async (running) => {
    handle = running;
  });
  // The worker has stopped (its step was cancelled by the shutdown and kept its state for a retry).
  await handle!.terminate('the worker never came back');
  const ref = ['--store', `file:${storeDir}`];
  const { runId } = await handle!.describe();
  const key = (await store.listStepStates())[0]!.key;
  expect(key).toMatch(new RegExp(`^${handle!.workflowId}/${runId}/\\d+$`));

  const listed = await tao(['checkpoint', 'step-states', '--json', ...ref]);
  expect(JSON.parse(listed.stdout)).toEqual([
    { key, attempt: 1, seq: 2, savedMs: expect.any(Number), bytes: expect.any(Number) },
  ]);
  const table = await tao(['checkpoint', 'step-states', ...ref]);
  expect(table.stdout).toContain(key);
  expect(table.stdout).toMatch(/│ 1 +│ 2 +│ \d{4}-\d\d-\d\dT/);

  expect(await tao(['checkpoint', 'rm-step-state', key, ...ref])).toMatchObject({
    code: 0,
    stdout: `removed step state ${key}\n`,
  });
  expect(await store.listStepStates()).toEqual([]);
  expect(await tao(['checkpoint', 'step-states', ...ref])).toMatchObject({ stdout: 'no step states\n' });
  expect(await tao(['checkpoint', 'rm-step-state', key, ...ref])).toMatchObject({
    code: 1,
    stderr: `tao: no step state ${key} in file:${storeDir}\n`,
  });
});
