/**
 * Run spec files: which workflow to start and its input, as YAML or JSON.
 * Everything is checked before anything starts, so a bad file costs one line
 * naming the field, never a half-started run.
 */
import { z } from 'zod';
import {
  PipelineInputSchema,
  StrictParallelInputSchema,
  StrictResumableParallelInputSchema,
} from '../contracts';
import { InputError, readDataFile } from '../config/data-file';
import { checkTemplates } from '../workflows/stage-templates';

const common = { id: z.string().min(1).optional(), taskQueue: z.string().min(1).optional() };

export const RunSpecSchema = z.discriminatedUnion('workflow', [
  z.object({ workflow: z.literal('parallel'), input: StrictParallelInputSchema, ...common }).strict(),
  z.object({ workflow: z.literal('pipeline'), input: PipelineInputSchema, ...common }).strict(),
  z
    .object({ workflow: z.literal('resumable'), input: StrictResumableParallelInputSchema, ...common })
    .strict(),
]);
export type RunSpec = z.input<typeof RunSpecSchema>;
export type WorkflowKind = RunSpec['workflow'];

export async function loadSpecFile(file: string): Promise<z.output<typeof RunSpecSchema>> {
  const spec = await readDataFile(file, RunSpecSchema);
  if (spec.workflow === 'pipeline') {
    // The workflow would reject a broken mustache template too, but only after starting.
    try {
      checkTemplates(spec.input.stages);
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
  return spec.workflow === 'pipeline'
    ? spec.input.items.length * spec.input.stages.length
    : spec.input.specs.length;
}

/** What the Web UI and `temporal workflow describe` show for a run `tao` started: its shape, in one line. */
export function runSummary(spec: z.output<typeof RunSpecSchema>, workflowId: string): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  switch (spec.workflow) {
    case 'pipeline':
      return `pipeline · ${plural(spec.input.items.length, 'item')} × ${plural(spec.input.stages.length, 'stage')}`;
    case 'parallel':
      return `parallel · ${plural(spec.input.specs.length, 'step')}`;
    case 'resumable':
      return `resumable · ${plural(spec.input.specs.length, 'step')} · checkpoint ${spec.input.checkpointId ?? workflowId}`;
  }
}
