/**
 * TAO as one plugin for an existing Temporal worker and client, built on the
 * SDK's own `SimplePlugin` the way Temporal's AI SDK plugin is. Added to a
 * worker's `plugins`, it registers TAO's activities (agent steps and
 * checkpoints), its data converter (claim check, encryption), with
 * `tracing` the SDK's OpenTelemetry interceptors and, given a Worker
 * Deployment Version, Worker Versioning (runs pinned to their build by
 * default); added to a client's `plugins`, the same data converter and
 * client interceptors, so both read what the other wrote and one trace runs
 * from the client through the workflow to each step.
 *
 * It leaves the worker's own settings alone: the worker it joins runs its
 * user's activities too, and a worker-wide limit set for TAO's steps (activity
 * slots, heartbeat throttle) would cap or change those silently. TAO bounds
 * its own steps instead: each step takes one of the plugin's step permits
 * (src/activities/step-permits.ts, as many as `concurrency`, default the
 * executor's hint) and beats while it waits for one, so a queued step neither
 * times out nor runs past the bound, and holds only its own activity slot.
 * `createTaoWorker`, whose worker TAO owns, sets worker-wide settings too.
 *
 * What that costs on a worker of yours: steps queued for a permit hold one of
 * the worker's activity slots each, and their wait counts against their
 * start-to-close timeout; with the SDK's heartbeat throttle (80% of the
 * heartbeat timeout) live output shows later and the heartbeat's copy of a
 * step's resume state lags more, which exact resume does not rely on (the
 * checkpoint store holds it, see src/activities/step-state.ts).
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
import type { BlobStore } from './blobs';
import type { OutcomeStore } from './outcomes';
import type { AgentExecutor } from './executors/executor';
import type { SessionStore } from './stores/session-store';

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
  /**
   * Agent steps in flight on this worker (one plugin instance's permits: give each worker its own plugin);
   * default: the executor's hint. Your activities are not counted.
   */
  concurrency?: number;
  /** A step attempt whose executor reports no progress for this long is retried; default 5 min (src/activities/stall-watchdog.ts). */
  stallTimeoutMs?: number;
  /** `taoDataConverter(settings)` for large payloads and encryption; clients must use the same. */
  dataConverter?: DataConverter;
  /** Where `tao start --items` uploads a run's items (the `--blobs` store); without it, only JSONL files are read. */
  blobs?: BlobStore;
  /**
   * Where runs that keep their items by reference put their outcomes (`createOutcomeStore` with the checkpoint
   * store's ref); without one, such runs' steps fail saying so.
   */
  outcomes?: OutcomeStore;
  /** Spans for workflows and steps, e.g. `tracingFromEnv(…).options`; the workflows must be bundled by this worker. */
  tracing?: OpenTelemetryPluginOptions;
  /**
   * Model-call and tool-call spans carry prompts, answers and tool arguments and results, scrubbed of
   * the executor's known secrets (off: identities and token counts only). For where traces are kept
   * as safely as the prompts themselves.
   */
  traceContent?: boolean;
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
        ...(tao.blobs ? { blobs: tao.blobs } : {}),
        ...(tao.outcomes ? { outcomes: tao.outcomes } : {}),
        ...(tao.concurrency !== undefined ? { concurrency: tao.concurrency } : {}),
        ...(tao.stallTimeoutMs !== undefined ? { stallTimeoutMs: tao.stallTimeoutMs } : {}),
        ...(tao.traceContent ? { traceContent: true } : {}),
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

  /** Adds only what the plugin's own options asked for; the worker's settings win even over those. */
  override configureWorker(options: WorkerOptions): WorkerOptions {
    const configured = super.configureWorker({
      ...(this.tao.workerDeploymentOptions
        ? { workerDeploymentOptions: sdkDeploymentOptions(this.tao.workerDeploymentOptions) }
        : {}),
      ...options,
    });
    return this.tracing ? this.tracing.configureWorker(configured) : configured;
  }
}
