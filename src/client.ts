/**
 * The programmatic client: start TAO workflows from a run spec, follow them
 * and read them back. The `tao` commands are built on it; it imports nothing
 * from the CLI, so TypeScript users get the same behaviour without a shell.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { describeZodError, type StepOutcome } from './contracts';
import { taoDataConverter } from './codec';
import { InputError } from './config/data-file';
import type { WorkerConfig } from './config/worker-config';
import { type Progress, progressQuery } from './workflows/lib/progress';
import { type RunSpec, RunSpecSchema, type WorkflowKind } from './client/spec-file';

export { RunSpecSchema, loadSpecFile, type RunSpec, type WorkflowKind } from './client/spec-file';
export { watchRun, type WatchOptions, type Watched } from './client/watch';
export type { Progress } from './workflows/lib/progress';

/** The workflow type each spec kind starts, as registered by the worker. */
export const WORKFLOW_TYPES = {
  parallel: 'parallelWorkflow',
  pipeline: 'pipelineWorkflow',
  resumable: 'resumableParallelWorkflow',
} as const satisfies Record<WorkflowKind, string>;

/** What a TAO workflow returns: one entry per spec (parallel, resumable) or per item (pipeline, `null` = no result). */
export type RunResult = (StepOutcome | null)[];

// Loopback answers in milliseconds; the SDK's 10 s default only delays the "not running" message.
const CONNECT_TIMEOUT = '5 seconds';

/**
 * A client for the server at `address`, decoding payloads the way TAO workers
 * encode them (large ones live in the `blobs` directory). Defaults for all
 * three: `resolveWorkerConfig({})`.
 */
export async function connectClient({
  address,
  namespace,
  blobs,
}: Pick<WorkerConfig, 'address' | 'namespace' | 'blobs'>): Promise<Client> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: CONNECT_TIMEOUT });
    return new Client({ connection, namespace, dataConverter: taoDataConverter({ blobs }) });
  } catch (error) {
    throw new Error(
      `cannot reach Temporal at ${address} (${(error as Error).message.split('\n')[0]}); start one with \`tao dev\` or pass --address`,
    );
  }
}

export interface StartRunOptions {
  /** Overrides the spec's `taskQueue`; one of the two is required. */
  taskQueue?: string;
  /** Overrides the spec's `id`; default: `<kind>-<random>`. */
  workflowId?: string;
}

/** Validates the spec and starts its workflow; the handle's `result()` resolves to a {@link RunResult}. */
export async function startRun(
  client: Client,
  spec: RunSpec,
  options: StartRunOptions = {},
): Promise<WorkflowHandle> {
  const parsed = RunSpecSchema.safeParse(spec);
  if (!parsed.success) throw new InputError(`invalid run spec: ${describeZodError(parsed.error)}`);
  const taskQueue = options.taskQueue ?? parsed.data.taskQueue;
  if (!taskQueue) throw new InputError('no task queue: set `taskQueue` in the spec or pass one');
  const workflowId = options.workflowId ?? parsed.data.id ?? `${spec.workflow}-${randomUUID().slice(0, 8)}`;
  try {
    return await client.workflow.start(WORKFLOW_TYPES[spec.workflow], {
      taskQueue,
      workflowId,
      args: [parsed.data.input],
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      throw new InputError(
        `workflow ${workflowId} is already running; wait for it, cancel it, or pick another id`,
      );
    }
    throw error;
  }
}

/**
 * The run's live step view, or `undefined` when no worker answered within
 * `timeoutMs` (none is polling the task queue, or it is busy starting).
 */
export async function fetchProgress(
  handle: WorkflowHandle,
  timeoutMs = 3_000,
): Promise<Progress | undefined> {
  try {
    return await handle.client.connection.withDeadline(Date.now() + timeoutMs, () =>
      handle.query(progressQuery),
    );
  } catch {
    return undefined;
  }
}
