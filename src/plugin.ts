/**
 * TAO as one plugin for an existing Temporal worker and client, built on the
 * SDK's own `SimplePlugin` the way Temporal's AI SDK plugin is. Added to a
 * worker's `plugins`, it registers TAO's activities (agent steps and
 * checkpoints), its data converter (claim check, encryption), the worker
 * settings agent steps depend on, with `tracing` the SDK's OpenTelemetry
 * interceptors and, given a Worker Deployment Version, Worker Versioning
 * (runs pinned to their build by default); added to a client's `plugins`,
 * the same data converter and client interceptors, so both read what the
 * other wrote and one trace runs from the client through the workflow to
 * each step. The worker's own settings win over the plugin's defaults.
 */
import type { ClientOptions } from '@temporalio/client';
import type { DataConverter, VersioningBehavior, WorkerDeploymentVersion } from '@temporalio/common';
import { OpenTelemetryPlugin, type OpenTelemetryPluginOptions } from '@temporalio/interceptors-opentelemetry';
import { SimplePlugin } from '@temporalio/plugin';
import type {
  BundleOptions,
  ReplayWorkerOptions,
  WorkerDeploymentOptions,
  WorkerOptions,
} from '@temporalio/worker';
import { createActivities } from './activities';
import type { AgentExecutor } from './executors/executor';
import type { SessionStore } from './stores/session-store';

/** Slots beyond the executor's hint, so checkpoint I/O never queues behind long agent steps. */
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
 * The SDK's `WorkerOptions.workerDeploymentOptions`, with TAO's defaults:
 * `useWorkerVersioning` true and `defaultVersioningBehavior` 'PINNED'. A TAO
 * run is bounded, so each run finishes on the build it started on and a new
 * build needs no `patched()` for the runs already going (docs/versioning.md).
 */
export interface TaoWorkerDeploymentOptions {
  version: WorkerDeploymentVersion;
  /** false: the worker reports its version but takes unversioned tasks, as before versioning. */
  useWorkerVersioning?: boolean;
  defaultVersioningBehavior?: VersioningBehavior;
}

/** The SDK's form of {@link TaoWorkerDeploymentOptions}, TAO's defaults filled in. */
function sdkDeploymentOptions(options: TaoWorkerDeploymentOptions): WorkerDeploymentOptions {
  return options.useWorkerVersioning === false
    ? { version: options.version, useWorkerVersioning: false }
    : {
        version: options.version,
        useWorkerVersioning: true,
        defaultVersioningBehavior: options.defaultVersioningBehavior ?? 'PINNED',
      };
}

export interface TaoPluginOptions {
  executor: AgentExecutor;
  store: SessionStore;
  /** Agent steps in flight on this worker; default: the executor's hint. */
  concurrency?: number;
  /** A step attempt whose executor reports no progress for this long is retried; default 5 min (src/activities/stall-watchdog.ts). */
  stallTimeoutMs?: number;
  /** `taoDataConverter(settings)` for large payloads and encryption; clients must use the same. */
  dataConverter?: DataConverter;
  /** Spans for workflows and steps, e.g. `tracingFromEnv(…).options`; the workflows must be bundled by this worker. */
  tracing?: OpenTelemetryPluginOptions;
  /** Worker Versioning: the Worker Deployment Version this worker serves; default: unversioned. */
  workerDeploymentOptions?: TaoWorkerDeploymentOptions;
}

export class TaoPlugin extends SimplePlugin {
  private readonly tracing: OpenTelemetryPlugin | undefined;

  constructor(private readonly tao: TaoPluginOptions) {
    super({
      name: 'tao',
      activities: createActivities({
        executor: tao.executor,
        store: tao.store,
        ...(tao.concurrency !== undefined ? { concurrency: tao.concurrency } : {}),
        ...(tao.stallTimeoutMs !== undefined ? { stallTimeoutMs: tao.stallTimeoutMs } : {}),
      }),
      ...(tao.dataConverter ? { dataConverter: tao.dataConverter } : {}),
    });
    this.tracing = tao.tracing && new OpenTelemetryPlugin(tao.tracing);
  }

  override configureClient(options: ClientOptions): ClientOptions {
    const configured = super.configureClient(options);
    return this.tracing ? this.tracing.configureClient(configured) : configured;
  }

  /** For a bundle built ahead of time (`bundleWorkflowCode({ plugins })`): it then carries the workflow interceptors. */
  override configureBundler(options: BundleOptions): BundleOptions {
    const configured = super.configureBundler(options);
    return this.tracing ? this.tracing.configureBundler(configured) : configured;
  }

  override configureReplayWorker(options: ReplayWorkerOptions): ReplayWorkerOptions {
    const configured = super.configureReplayWorker(options);
    return this.tracing ? this.tracing.configureReplayWorker(configured) : configured;
  }

  override configureWorker(options: WorkerOptions): WorkerOptions {
    const steps = Math.max(1, this.tao.concurrency ?? this.tao.executor.concurrencyHint());
    const configured = super.configureWorker({
      maxConcurrentActivityTaskExecutions: steps + STORE_ACTIVITY_SLOTS,
      maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
      defaultHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
      stickyQueueScheduleToStartTimeout: DEFAULT_STICKY_QUEUE_TIMEOUT_MS,
      ...(this.tao.workerDeploymentOptions
        ? { workerDeploymentOptions: sdkDeploymentOptions(this.tao.workerDeploymentOptions) }
        : {}),
      ...options,
    });
    return this.tracing ? this.tracing.configureWorker(configured) : configured;
  }
}
