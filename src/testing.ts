/**
 * `<pkg>/testing`: for tests of your own workflows built on TAO. The script
 * executor answers steps from rules (no model is called), the memory store
 * keeps checkpoints in the process, and the two helpers put TAO's activities
 * on a `TestWorkflowEnvironment`'s worker and replay recorded histories.
 */
import type { NativeConnection } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { registerWaitingAttribute } from './connection/waiting-attribute';
import type { AgentExecutor } from './executors/executor';
import { ScriptExecutor } from './executors/script';
import { TaoPlugin } from './plugin';
import { MemorySessionStore } from './stores/memory-store';
import type { SessionStore } from './stores/session-store';

export { ScriptExecutor, type ScriptFile, type ScriptRule } from './executors/script';
export { MemorySessionStore } from './stores/memory-store';

export interface TestWorkerOptions {
  taskQueue: string;
  /** Your workflow module. */
  workflowsPath: string;
  /** Default: a {@link ScriptExecutor} that echoes each prompt. */
  executor?: AgentExecutor;
  /** Default: a fresh {@link MemorySessionStore}. */
  store?: SessionStore;
}

/**
 * A worker with {@link TaoPlugin} on a test environment's connection
 * (`env.nativeConnection`), whose server it gives the search attribute TAO's
 * runs keep their waiting steps in (see src/connection/waiting-attribute).
 */
export async function createTestWorker(
  env: { nativeConnection: NativeConnection; namespace?: string },
  options: TestWorkerOptions,
): Promise<Worker> {
  await registerWaitingAttribute(env.nativeConnection, env.namespace ?? 'default');
  return Worker.create({
    connection: env.nativeConnection,
    ...(env.namespace ? { namespace: env.namespace } : {}),
    taskQueue: options.taskQueue,
    workflowsPath: options.workflowsPath,
    plugins: [
      new TaoPlugin({
        executor: options.executor ?? new ScriptExecutor(),
        store: options.store ?? new MemorySessionStore(),
      }),
    ],
  });
}

/**
 * Replays each history (as `temporal workflow show --output json` writes it,
 * or `handle.fetchHistory()` returns it) against your workflow module; throws
 * naming the first that does not replay, which is what a change that needs
 * `patched()` looks like.
 */
export async function replayHistories(
  workflowsPath: string,
  histories: { workflowId: string; history: unknown }[],
): Promise<void> {
  const replays = Worker.runReplayHistories(
    {
      workflowsPath,
      plugins: [new TaoPlugin({ executor: new ScriptExecutor(), store: new MemorySessionStore() })],
    },
    histories as Parameters<typeof Worker.runReplayHistories>[1],
  );
  for await (const result of replays) {
    if (result.error)
      throw new Error(`history of ${result.workflowId} does not replay: ${String(result.error)}`);
  }
}
