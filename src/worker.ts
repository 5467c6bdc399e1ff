/**
 * The TAO worker: polls one task queue, runs the workflows in
 * `src/workflows` and the agent-step and checkpoint activities against the
 * configured executor and store.
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import { createActivities } from './activities';
import { taoDataConverter } from './codec';
import {
  type WorkerConfig,
  type WorkerFlags,
  payloadSettings,
  resolveWorkerConfig,
} from './config/worker-config';
import { explainConnectError } from './connection/diagnose';
import type { TemporalConnection } from './connection/settings';
import type { AgentExecutor } from './executors/executor';
import { createExecutor } from './executors/registry';
import { createStore } from './stores/registry';
import type { SessionStore } from './stores/session-store';

/** Slots beyond the executor's hint, so checkpoint I/O never queues behind long agent steps. */
const STORE_ACTIVITY_SLOTS = 2;

/**
 * How long the SDK may hold back a heartbeat. Agent steps save their resume
 * state in heartbeat details after every model turn and tool result; the
 * default throttle (80% of the heartbeat timeout) would let a crash lose
 * several of those. One second puts the last turn's state on the server
 * before the next model answer in the normal case, where a model call takes
 * longer than that, and costs at most one heartbeat RPC a second per step.
 */
const HEARTBEAT_THROTTLE = '1 second';

/**
 * How long a workflow task waits on a worker's sticky queue before any worker
 * may take it. The SDK's 10 s stalls every open workflow of a crashed worker
 * for that long; a live worker answers its sticky queue in milliseconds.
 */
export const DEFAULT_STICKY_QUEUE_TIMEOUT_MS = 3_000;

export interface TaoWorkerParts {
  connection: NativeConnection;
  executor: AgentExecutor;
  store: SessionStore;
  taskQueue: string;
  namespace?: string;
  concurrency?: number;
  /** A pre-built workflow bundle (tests bundle once); default: bundle `workflowsPath` at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Large-payload offloading (see src/codec); clients must use the same one. */
  dataConverter?: DataConverter;
  /** Workflow module to bundle, for users who add their own workflows; default: TAO's `src/workflows`. */
  workflowsPath?: string;
  /** See {@link DEFAULT_STICKY_QUEUE_TIMEOUT_MS}. */
  stickyQueueTimeoutMs?: number;
}

export async function createTaoWorker(parts: TaoWorkerParts): Promise<Worker> {
  const hint = Math.max(1, parts.concurrency ?? parts.executor.concurrencyHint());
  return Worker.create({
    connection: parts.connection,
    namespace: parts.namespace ?? 'default',
    taskQueue: parts.taskQueue,
    ...(parts.workflowBundle
      ? { workflowBundle: parts.workflowBundle }
      : { workflowsPath: parts.workflowsPath ?? require.resolve('./workflows') }),
    activities: createActivities({
      executor: parts.executor,
      store: parts.store,
      ...(parts.concurrency !== undefined ? { concurrency: parts.concurrency } : {}),
    }),
    maxConcurrentActivityTaskExecutions: hint + STORE_ACTIVITY_SLOTS,
    maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
    defaultHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
    stickyQueueScheduleToStartTimeout: parts.stickyQueueTimeoutMs ?? DEFAULT_STICKY_QUEUE_TIMEOUT_MS,
    ...(parts.dataConverter ? { dataConverter: parts.dataConverter } : {}),
  });
}

/** A worker's connection; a failure is one line saying why (TLS settings included) and what to set. */
export async function connectWorker(target: TemporalConnection): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect({
      address: target.address,
      ...(target.tls !== undefined ? { tls: target.tls } : {}),
      ...(target.apiKey ? { apiKey: target.apiKey } : {}),
      ...(target.metadata ? { metadata: target.metadata } : {}),
    });
  } catch (error) {
    throw new Error(await explainConnectError(error, target));
  }
}

/** The worker a {@link WorkerConfig} describes, on an open connection with its executor and store built. */
export function workerFromConfig(
  connection: NativeConnection,
  namespace: string,
  config: WorkerConfig,
  executor: AgentExecutor,
  store: SessionStore,
): Promise<Worker> {
  return createTaoWorker({
    connection,
    executor,
    store,
    taskQueue: config.taskQueue,
    namespace,
    dataConverter: taoDataConverter(payloadSettings(config)),
    ...(config.concurrency !== undefined ? { concurrency: config.concurrency } : {}),
    ...(config.stickyQueueTimeoutMs !== undefined
      ? { stickyQueueTimeoutMs: config.stickyQueueTimeoutMs }
      : {}),
  });
}

/** Builds and runs a worker until SIGINT/SIGTERM, then drains in-flight tasks and exits cleanly. */
export async function runWorker(
  config: WorkerConfig,
  target: TemporalConnection,
  onReady?: (worker: Worker) => void,
): Promise<void> {
  const [executor, store] = await Promise.all([createExecutor(config.executor), createStore(config.store)]);
  const connection = await connectWorker(target);
  try {
    const worker = await workerFromConfig(connection, target.namespace, config, executor, store);
    onReady?.(worker);
    await worker.run();
  } finally {
    await connection.close();
    await Promise.all([store.close?.(), executor.close?.()]);
  }
}

export { resolveWorkerConfig, type WorkerFlags };
