/**
 * Run spec files: which workflow to start and its input, as YAML or JSON.
 * Everything is checked before anything starts, so a bad file costs one line
 * naming the field, never a half-started run.
 */
import { z } from 'zod';
import {
  BatchInputSchema,
  type ItemSource,
  LoopInputSchema,
  PipelineInputSchema,
  ParallelInputSchema,
  ResumableParallelInputSchema,
} from '../contracts';
import { InputError, readDataFile } from '../config/data-file';
import { checkTemplates } from '../workflows/stage-templates';

const common = { id: z.string().min(1).optional(), taskQueue: z.string().min(1).optional() };

export const RunSpecSchema = z.discriminatedUnion('workflow', [
  z.object({ workflow: z.literal('parallel'), input: ParallelInputSchema, ...common }).strict(),
  z.object({ workflow: z.literal('pipeline'), input: PipelineInputSchema, ...common }).strict(),
  z.object({ workflow: z.literal('resumable'), input: ResumableParallelInputSchema, ...common }).strict(),
  z.object({ workflow: z.literal('loop'), input: LoopInputSchema, ...common }).strict(),
  z.object({ workflow: z.literal('batch'), input: BatchInputSchema, ...common }).strict(),
]);
export type RunSpec = z.input<typeof RunSpecSchema>;

/** A batch run's spec whose source is given apart (`tao start <file> --items <file.jsonl>`). */
const SourcelessBatchSpecSchema = z
  .object({ workflow: z.literal('batch'), input: BatchInputSchema.omit({ source: true }), ...common })
  .strict();
type SourcelessBatchSpec = z.output<typeof SourcelessBatchSpecSchema>;

/**
 * A batch spec file without a source, for items uploaded apart; checked
 * before anything is uploaded, so a bad file costs no upload.
 */
export async function loadSourcelessBatchSpec(file: string): Promise<SourcelessBatchSpec> {
  const { workflow, input } = await readDataFile(
    file,
    z.object({ workflow: z.unknown(), input: z.unknown() }),
  );
  if (workflow !== 'batch') {
    throw new InputError(
      `${file}: --items starts a batch run, and this spec is workflow ${JSON.stringify(workflow)}; give a batch spec (workflow: batch) or drop --items`,
    );
  }
  if (typeof input === 'object' && input !== null && 'source' in input) {
    throw new InputError(`${file}: input.source and --items both name the run's items; drop one`);
  }
  return readDataFile(file, SourcelessBatchSpecSchema);
}
export type WorkflowKind = RunSpec['workflow'];

export async function loadSpecFile(file: string): Promise<z.output<typeof RunSpecSchema>> {
  const spec = await readDataFile(file, RunSpecSchema);
  // The workflow would reject a broken mustache template too, but only after starting.
  const templates =
    spec.workflow === 'pipeline'
      ? () => checkTemplates(spec.input.stages)
      : spec.workflow === 'loop' && spec.input.next
        ? () => checkTemplates(spec.input.next!.specs, 'next.specs')
        : undefined;
  if (templates) {
    try {
      templates();
    } catch (error) {
      throw new InputError(
        `${file}: ${(error as Error).message.replace(/^invalid input: /, 'invalid input.')}`,
      );
    }
  }
  return spec;
}

/** Every step the run will account for in its progress, known before it starts. */
export function expectedSteps(spec: RunSpec): number {
  switch (spec.workflow) {
    case 'pipeline':
      // A plan's items are known once its step ran; until then, the plan is the one step.
      return spec.input.items ? spec.input.items.length * spec.input.stages.length : 1;
    case 'loop':
      return spec.input.initial.length; // later rounds are built from outcomes
    case 'batch':
      return 0; // its source is counted as the run reads it
    default:
      return spec.input.specs.length;
  }
}

/** What the Web UI and `temporal workflow describe` show for a run `tao` started: its shape, in one line. */
export function runSummary(spec: z.output<typeof RunSpecSchema>, workflowId: string): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  switch (spec.workflow) {
    case 'pipeline': {
      const items = spec.input.items
        ? plural(spec.input.items.length, 'item')
        : `items planned by ${spec.input.plan!.step.taskId}`;
      return `pipeline · ${items} × ${plural(spec.input.stages.length, 'stage')}`;
    }
    case 'parallel':
      return `parallel · ${plural(spec.input.specs.length, 'step')}`;
    case 'resumable':
      return `resumable · ${plural(spec.input.specs.length, 'step')} · checkpoint ${spec.input.checkpointId ?? workflowId}`;
    case 'loop':
      return `loop · ${plural(spec.input.initial.length, 'step')} in round 1 · at most ${plural(spec.input.maxIterations, 'round')}`;
    case 'batch':
      return `batch · steps from ${sourceName(spec.input.source)}`;
  }
}

/** Where a batch run reads its steps, in a few words: the file's path, or the upload's id, cut. */
export const sourceName = (source: ItemSource) =>
  'jsonl' in source ? source.jsonl : `uploaded items ${source.blob.slice(0, 19)}`;
