/** Shared plumbing for tests that run workflows on the run's dev server. */
import type { BlobStore } from '../../src/blobs';
import type { OutcomeStore } from '../../src/outcomes';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { msToTs } from '@temporalio/common/lib/time';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { registerWaitingAttribute } from '../../src/connection/waiting-attribute';
import type { AgentExecutor } from '../../src/executors/executor';
import { MemorySessionStore } from '../../src/stores/memory-store';
import type { SessionStore } from '../../src/stores/session-store';
import { type TaoWorkerDeploymentOptions, createTaoWorker } from '../../src/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';

export function devServerAddress(): string {
  const address = process.env.TAO_TEST_TEMPORAL_ADDRESS;
  if (!address)
    throw new Error(
      'TAO_TEST_TEMPORAL_ADDRESS unset: run tests through jest (global setup starts the server)',
    );
  return address;
}

export const workflowBundle = () => ({ codePath: process.env.TAO_TEST_BUNDLE! });

let client: Promise<Client> | undefined;
export function devClient(): Promise<Client> {
  client ??= Connection.connect({ address: devServerAddress() }).then(
    (connection) => new Client({ connection }),
  );
  return client;
}

export async function closeDevClient(): Promise<void> {
  if (client) await (await client).connection.close();
  client = undefined;
}

export interface WorkerHarness {
  client: Client;
  taskQueue: string;
  store: SessionStore;
  worker: Worker;
}

export interface HarnessOptions {
  executor: AgentExecutor;
  store?: SessionStore;
  concurrency?: number;
  stallTimeoutMs?: number;
  taskQueue?: string;
  dataConverter?: DataConverter;
  workerDeploymentOptions?: TaoWorkerDeploymentOptions;
  /** Default: the dev server's `default`; see {@link newNamespace}. */
  namespace?: string;
  /** Where runs by reference keep their outcomes; default: none. */
  outcomes?: OutcomeStore;
  /** Where uploaded items are (`tao start --items`); default: none. */
  blobs?: BlobStore;
  /** Default: the bundle every test worker shares. */
  workflowBundle?: { codePath: string };
}

/** Runs `body` while a TAO worker (real, on the dev server) polls a fresh task queue. */
export async function withWorker<T>(
  options: HarnessOptions,
  body: (h: WorkerHarness) => Promise<T>,
): Promise<T> {
  const connection = await NativeConnection.connect({ address: devServerAddress() });
  const taskQueue = options.taskQueue ?? `test-${randomUUID()}`;
  const store = options.store ?? new MemorySessionStore();
  try {
    const worker = await createTaoWorker({
      connection,
      executor: options.executor,
      store,
      taskQueue,
      workflowBundle: options.workflowBundle ?? workflowBundle(),
      ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
      ...(options.stallTimeoutMs !== undefined ? { stallTimeoutMs: options.stallTimeoutMs } : {}),
      ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}),
      ...(options.outcomes ? { outcomes: options.outcomes } : {}),
      ...(options.blobs ? { blobs: options.blobs } : {}),
      ...(options.workerDeploymentOptions
        ? { workerDeploymentOptions: options.workerDeploymentOptions }
        : {}),
    });
    // The harness's client reads and starts runs where the worker polls.
    const c = options.namespace !== undefined ? await namespaceClient(options.namespace) : await devClient();
    return await worker.runUntil(body({ client: c, taskQueue, store, worker }));
  } finally {
    await connection.close();
  }
}

export const uniqueId = (prefix: string) => `${prefix}-${randomUUID()}`;

/**
 * A new namespace on the dev server, for a test that reads every run of its
 * namespace (visibility) and must see no other test's; returned once the
 * server answers for it. `waitingAttribute`: with TaoWaitingSteps registered,
 * as `tao dev` and `tao setup` do, for runs whose steps wait for a decision
 * (the dev server's start registers it in `default` only).
 */
export async function newNamespace(
  prefix: string,
  options: { waitingAttribute?: boolean } = {},
): Promise<string> {
  const namespace = uniqueId(prefix);
  const { connection, workflowService } = await devClient();
  await workflowService.registerNamespace({
    namespace,
    workflowExecutionRetentionPeriod: msToTs('1 day'),
  });
  for (const deadline = Date.now() + 20_000; ;) {
    try {
      await workflowService.describeNamespace({ namespace });
      break;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  if (options.waitingAttribute) await registerWaitingAttribute(connection, namespace);
  return namespace;
}

/** A client of `namespace` on the shared dev server connection (closed with it by {@link closeDevClient}). */
export async function namespaceClient(namespace: string): Promise<Client> {
  const { connection } = await devClient();
  return new Client({ connection, namespace });
}

/** A TAO worker on a time-skipping test server, with a memory store, polling a fresh task queue. */
export async function timeSkippingWorker(
  env: TestWorkflowEnvironment,
  executor: AgentExecutor,
  prefix: string,
): Promise<{ worker: Worker; taskQueue: string }> {
  const taskQueue = uniqueId(prefix);
  // Runs with a step waiting for a decision upsert it; the dev server has it from its start.
  await registerWaitingAttribute(env.nativeConnection, env.namespace ?? 'default');
  const worker = await createTaoWorker({
    connection: env.nativeConnection,
    executor,
    store: new MemorySessionStore(),
    taskQueue,
    workflowBundle: workflowBundle(),
  });
  return { worker, taskQueue };
}
