/**
 * Workflow types startable by name with plain JSON, e.g.
 * `temporal workflow start --type pipelineWorkflow --input '{...}'`.
 * Each validates its input first: a bad input fails the workflow at once with
 * a non-retryable error naming the field, never a workflow-task retry loop.
 */
import { workflowInfo } from '@temporalio/workflow';
import type { z } from 'zod';
import {
  type ParallelInput,
  ParallelInputSchema,
  type PipelineInput,
  PipelineInputSchema,
  type ResumableParallelInput,
  ResumableParallelInputSchema,
  type StepOutcome,
  describeZodError,
} from '../contracts';
import { executePipeline, executeStepsParallel, executeStepsParallelResumable, progressBoard } from './lib';
import { invalidInput } from './lib/steps';
import { checkTemplates, stageFromTemplate } from './stage-templates';

export { progressQuery } from './lib';

function parseInput<S extends z.ZodTypeAny>(schema: S, input: unknown): z.output<S> {
  // Register the progress query before anything can fail, so it always answers.
  progressBoard();
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw invalidInput(describeZodError(parsed.error));
  return parsed.data;
}

export async function parallelWorkflow(input: ParallelInput): Promise<StepOutcome[]> {
  const { specs, ...options } = parseInput(ParallelInputSchema, input);
  return executeStepsParallel(specs, options);
}

export async function pipelineWorkflow(input: PipelineInput): Promise<(StepOutcome | null)[]> {
  const { items, stages, ...options } = parseInput(PipelineInputSchema, input);
  checkTemplates(stages);
  return executePipeline(items, stages.map(stageFromTemplate), options);
}

export async function resumableParallelWorkflow(input: ResumableParallelInput): Promise<StepOutcome[]> {
  const { specs, checkpointId, ...options } = parseInput(ResumableParallelInputSchema, input);
  return executeStepsParallelResumable(specs, checkpointId ?? workflowInfo().workflowId, options);
}
