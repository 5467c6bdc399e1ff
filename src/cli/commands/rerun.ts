/** `tao rerun`: a new run of a closed one, with edits, reusing the outcomes of what did not change. */
import type { Command } from 'commander';
import { loadSpecFile, rerunRun } from '../../client';
import { expectedSteps } from '../../client/spec-file';
import { clientFromFlags, jsonOption, repeated, startOptions } from '../options';
import { resolveWorkerConfig } from '../../config/worker-config';
import { followStarted } from './run';
import { uploadSpecs } from './workflows';

interface RerunFlags {
  address?: string;
  namespace?: string;
  taskQueue?: string;
  id?: string;
  json?: boolean;
  set: string[];
  from?: string;
  items?: string;
}

export function registerRerun(program: Command): void {
  jsonOption(startOptions(program.command('rerun')))
    .description(
      'start a new run of a closed run (succeeded, failed or cancelled) with edits; steps whose spec is unchanged and which depend on nothing that runs again reuse its outcomes, at no cost. The old run is only read',
    )
    .argument('<id>', 'the run to rerun')
    .argument('[file]', "an edited run spec of the same workflow kind (default: the run's own input)")
    .option(
      '--set <taskId.field=value>',
      'edit one step or stage: prompt, description, agent or maxSteps; =@<file> reads the value from a file (repeatable)',
      repeated,
      [],
    )
    .option('--from <taskId>', 'run this step of the old run, and everything after it, again')
    .option(
      '--items <file.jsonl>',
      "a batch run's edited specs (one per line), uploaded to the blob store (--blobs); unchanged ones at the same line reuse their outcomes",
    )
    .action(async (id: string, file: string | undefined, flags: RerunFlags) => {
      const spec = file === undefined ? undefined : await loadSpecFile(file);
      const items =
        flags.items === undefined ? undefined : await uploadSpecs(flags.items, resolveWorkerConfig(flags));
      const client = await clientFromFlags(flags);
      try {
        const rerun = await rerunRun(client, id, {
          ...(spec ? { spec } : {}),
          ...(items ? { items } : {}),
          set: flags.set,
          ...(flags.from !== undefined ? { from: flags.from } : {}),
          ...(flags.taskQueue !== undefined ? { taskQueue: flags.taskQueue } : {}),
          ...(flags.id !== undefined ? { workflowId: flags.id } : {}),
        });
        console.error(
          `started ${rerun.handle.workflowId}, a rerun of ${id} (${rerun.reusable} outcomes it may reuse), on task queue ${rerun.taskQueue}`,
        );
        process.exitCode = await followStarted(rerun.handle, {
          taskQueue: rerun.taskQueue,
          expectedSteps: expectedSteps(rerun.spec),
          json: flags.json ?? false,
          detachable: true,
        });
      } finally {
        await client.connection.close();
      }
    });
}
