/**
 * The workflow-side library: import these inside your own workflow code to
 * fan agent steps out durably. Each runs deterministically in the workflow and
 * schedules `executeAgentStep` activities on the worker's task queue.
 */
export { executeStepsParallel } from './parallel';
export { executePipeline, type PipelineStage } from './pipeline';
export { executeStepsParallelResumable } from './resumable';
export { executeLoop, type LoopNext, type LoopOptions } from './loop';
export { RunContext, createRunContext } from './run-context';
export {
  progressQuery,
  type Progress,
  type StepProgress,
  type StepStatus,
  type UsageTotals,
} from './progress';
export type { CombinatorOptions, ResumableOptions } from './inputs';
