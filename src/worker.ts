/**
 * The TAO worker: polls one task queue, runs the workflows in
 * `src/workflows` and the agent-step and checkpoint activities against the
 * configured executor and store.
 */
import { setFlagsFromString } from 'node:v8';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import type { OpenTelemetryPluginOptions } from '@temporalio/interceptors-opentelemetry';
import { type BlobStore, openBlobStore } from './blobs';
import { type OutcomeStore, createOutcomeStore } from './outcomes';
import { taoDataConverter } from './codec';
import {
  type WorkerConfig,
  type WorkerFlags,
  deploymentVersion,
  payloadSettings,
  resolveWorkerConfig,
} from './config/worker-config';
import { explainConnectError } from './connection/diagnose';
import type { TemporalConnection } from './connection/settings';
import { warnIfWaitingAttributeMissing } from './connection/waiting-attribute';
import type { AgentExecutor } from './executors/executor';
import { createExecutor } from './executors/registry';
import { TaoPlugin, type TaoWorkerDeploymentOptions } from './plugin';
import { createStore } from './stores/registry';
import type { SessionStore } from './stores/session-store';
import { envTracing, shutdownEnvTracing } from './telemetry/tracing';
import { prebuiltWorkflowBundle } from './workflow-bundles';

export interface TaoWorkerParts {
  connection: NativeConnection;
  executor: AgentExecutor;
  store: SessionStore;
  taskQueue: string;
  namespace?: string;
  concurrency?: number;
  /** A pre-built workflow bundle (tests bundle once); default: the package's own, else `workflowsPath` bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Large-payload offloading (see src/codec); clients must use the same one. */
  dataConverter?: DataConverter;
  /** See {@link TaoPluginOptions.blobs}. */
  blobs?: BlobStore;
  /** See {@link TaoPluginOptions.outcomes}. */
  outcomes?: OutcomeStore;
  /** Workflow module to bundle, for users who add their own workflows; default: TAO's `src/workflows`. */
  workflowsPath?: string;
  /** See {@link DEFAULT_STICKY_QUEUE_TIMEOUT_MS}. */
  stickyQueueTimeoutMs?: number;
  /** See {@link TaoPluginOptions.stallTimeoutMs}. */
  stallTimeoutMs?: number;
  /** See {@link TaoPluginOptions.tracing}. */
  tracing?: OpenTelemetryPluginOptions;
  /** See {@link TaoPluginOptions.traceContent}. */
  traceContent?: boolean;
  /** See {@link TaoPluginOptions.workerDeploymentOptions}. */
  workerDeploymentOptions?: TaoWorkerDeploymentOptions;
}

/** Slots beyond the agent steps, so checkpoint I/O never queues behind long agent steps. */
const STORE_ACTIVITY_SLOTS = 2;

/**
 * How long the SDK may hold back a heartbeat. Agent steps put their resume
 * state in heartbeat details after every model turn and tool result, beside
 * the durable copy in the checkpoint store that exact resume relies on (see
 * src/activities/step-state.ts); the heartbeat's copy is the fallback (a
 * memory store, a lost record) and shows progress. The default throttle (80%
 * of the heartbeat timeout) would let it fall far behind; one second costs at
 * most one heartbeat RPC a second per step.
 */
const HEARTBEAT_THROTTLE = '1 second';

/**
 * How long a workflow task waits on a worker's sticky queue before any worker
 * may take it. The SDK's 10 s stalls every open workflow of a crashed worker
 * for that long; a live worker answers its sticky queue in milliseconds.
 */
export const DEFAULT_STICKY_QUEUE_TIMEOUT_MS = 3_000;

/**
 * A worker for TAO's own workflows (or yours, with `workflowsPath`), with
 * {@link TaoPlugin} added. TAO owns this worker, so it alone sets
 * worker-wide settings for agent steps: activity slots for the steps and
 * the store's activities, a 1 s heartbeat throttle and a short sticky-queue
 * timeout. The plugin on a worker of yours sets none of them.
 */
export async function createTaoWorker(parts: TaoWorkerParts): Promise<Worker> {
  const steps = Math.max(1, parts.concurrency ?? parts.executor.concurrencyHint());
  return Worker.create({
    connection: parts.connection,
    namespace: parts.namespace ?? 'default',
    taskQueue: parts.taskQueue,
    ...workflowCode(parts),
    maxConcurrentActivityTaskExecutions: steps + STORE_ACTIVITY_SLOTS,
    maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
    defaultHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
    stickyQueueScheduleToStartTimeout: parts.stickyQueueTimeoutMs ?? DEFAULT_STICKY_QUEUE_TIMEOUT_MS,
    plugins: [
      new TaoPlugin({
        executor: parts.executor,
        store: parts.store,
        concurrency: steps,
        ...(parts.stallTimeoutMs !== undefined ? { stallTimeoutMs: parts.stallTimeoutMs } : {}),
        ...(parts.dataConverter ? { dataConverter: parts.dataConverter } : {}),
        ...(parts.blobs ? { blobs: parts.blobs } : {}),
        ...(parts.outcomes ? { outcomes: parts.outcomes } : {}),
        ...(parts.tracing ? { tracing: parts.tracing } : {}),
        ...(parts.traceContent ? { traceContent: true } : {}),
        ...(parts.workerDeploymentOptions ? { workerDeploymentOptions: parts.workerDeploymentOptions } : {}),
      }),
    ],
  });
}

/** See {@link limitHeapGrowth}. */
const HEAP_GROWING_PERCENT = 50;

/**
 * Lets each V8 heap of this process (the main thread's and the SDK's
 * workflow threads', which start later) grow by at most
 * {@link HEAP_GROWING_PERCENT}% over what survived its last full collection
 * before it collects again. V8's own factor is up to 4×, chosen to keep
 * collection under a few percent of the time. A worker's heaps hold 25–35 MB
 * but take in 5–10 MB/s of objects that outlive a young collection by living
 * as long as one step (the SDK's activity and promise records), so at 4× each
 * heap peaked at 90–130 MB and a batch worker at 390–490 MiB; at 1.5× it
 * peaks at 270–300 MiB, for about 40 full collections of the two heaps per
 * 10,000 steps, a few milliseconds each on heaps this small (docs/deploy.md
 * has the figures). This is not a cap: a heap still grows as far as its live
 * objects need. A growth given to node itself (`node --heap-growing-percent=N`)
 * wins. The CLI's workers call this; call it before creating a worker of yours.
 */
export function limitHeapGrowth(): void {
  if (process.execArgv.some((flag) => /^--heap[-_]growing[-_]percent\b/.test(flag))) return;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

/** The parts' bundle, else their workflows to bundle, else TAO's own, prebuilt if the build made it. */
function workflowCode(parts: TaoWorkerParts): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (parts.workflowBundle) return { workflowBundle: parts.workflowBundle };
  if (parts.workflowsPath) return { workflowsPath: parts.workflowsPath };
  const prebuilt = prebuiltWorkflowBundle(parts.tracing !== undefined);
  return prebuilt
    ? { workflowBundle: { codePath: prebuilt } }
    : { workflowsPath: require.resolve('./workflows') };
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

/**
 * The worker a {@link WorkerConfig} describes, on an open connection with its
 * executor and store built; traced when the `OTEL_*` variables say so.
 */
export async function workerFromConfig(
  connection: NativeConnection,
  namespace: string,
  config: WorkerConfig,
  executor: AgentExecutor,
  store: SessionStore,
  /** Given when another part of the process reads it (`tao dev`'s page): a memory store is one object. */
  outcomes: OutcomeStore = createOutcomeStore(config.store),
): Promise<Worker> {
  const tracing = await envTracing();
  const version = deploymentVersion(config);
  return createTaoWorker({
    connection,
    executor,
    store,
    taskQueue: config.taskQueue,
    namespace,
    dataConverter: taoDataConverter(payloadSettings(config)),
    blobs: openBlobStore(config.blobs),
    outcomes,
    ...(config.concurrency !== undefined ? { concurrency: config.concurrency } : {}),
    ...(config.stickyQueueTimeoutMs !== undefined
      ? { stickyQueueTimeoutMs: config.stickyQueueTimeoutMs }
      : {}),
    ...(config.stallTimeoutMs !== undefined ? { stallTimeoutMs: config.stallTimeoutMs } : {}),
    ...(tracing ? { tracing: tracing.options } : {}),
    ...(config.traceContent ? { traceContent: true } : {}),
    ...(version ? { workerDeploymentOptions: { version } } : {}),
  });
}

/** Builds and runs a worker until SIGINT/SIGTERM, then drains in-flight tasks and exits cleanly. */
export async function runWorker(
  config: WorkerConfig,
  target: TemporalConnection,
  onReady?: (worker: Worker) => void,
): Promise<void> {
  // Bad OTEL_* or versioning settings fail here, before anything is built or connected.
  await envTracing();
  deploymentVersion(config);
  const [executor, store] = await Promise.all([createExecutor(config.executor), createStore(config.store)]);
  const connection = await connectWorker(target);
  await warnIfWaitingAttributeMissing(connection, target.namespace);
  try {
    const worker = await workerFromConfig(connection, target.namespace, config, executor, store);
    onReady?.(worker);
    await worker.run();
  } finally {
    await connection.close();
    await Promise.all([store.close?.(), executor.close?.(), shutdownEnvTracing()]);
  }
}

export { resolveWorkerConfig, type WorkerFlags };
export { TaoPlugin, type TaoPluginOptions, type TaoWorkerDeploymentOptions } from './plugin';
export { createActivities } from './activities';
export { DEFAULT_STALL_TIMEOUT_MS } from './activities/stall-watchdog';
export type { TaoActivities } from './activity-api';
export {
  type AgentExecutor,
  NonRetryableStepError,
  RetryableStepError,
  type StepContext,
} from './executors/executor';
export type { StepEventBody, StepEvents } from './transcripts/events';
export { createExecutor } from './executors/registry';
export { ScriptExecutor } from './executors/script';
export { LlmExecutor } from './executors/llm/llm-executor';
export { CommandExecutor } from './executors/command';
export type { SessionStore } from './stores/session-store';
export { createStore } from './stores/registry';
export { FileSessionStore } from './stores/file-store';
export { MemorySessionStore } from './stores/memory-store';
export { PostgresSessionStore } from './stores/postgres-store';
export { type PayloadSettings, loadKeyRing, taoDataConverter, taoPayloadCodecs } from './codec';
export { openBlobStore } from './blobs';
export { type Tracing, tracingFromEnv } from './telemetry/tracing';
