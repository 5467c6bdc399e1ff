/**
 * Starting a run from a run spec: validated first, so a bad spec starts
 * nothing, and named in the Web UI by its shape.
 */
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { InputError } from '../config/data-file';
import { describeZodError } from '../contracts';
import { type RunSpec, RunSpecSchema, type WorkflowKind, runSummary } from './spec-file';

/** The workflow type each spec kind starts, as registered by the worker. */
export const WORKFLOW_TYPES = {
  parallel: 'parallelWorkflow',
  pipeline: 'pipelineWorkflow',
  resumable: 'resumableParallelWorkflow',
  loop: 'loopWorkflow',
  batch: 'batchWorkflow',
} as const satisfies Record<WorkflowKind, string>;

export interface StartRunOptions {
  /** Overrides the spec's `taskQueue`; one of the two is required. */
  taskQueue?: string;
  /** Overrides the spec's `id`; default: `<kind>-<random>`. */
  workflowId?: string;
  /** Recorded with the run, shown by `temporal workflow describe` (a rerun's `rerunOf`). */
  memo?: Record<string, unknown>;
  /** Added to the run's one-line summary in the Web UI, after ` · `. */
  summarySuffix?: string;
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
      staticSummary: [
        runSummary(parsed.data, workflowId),
        ...(options.summarySuffix ? [options.summarySuffix] : []),
      ].join(' · '),
      ...(options.memo ? { memo: options.memo } : {}),
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
