import type { Command } from 'commander';
import { followStep, removeTranscripts, stepTranscript } from '../../client';
import type { WorkerFlags } from '../../config/worker-config';
import { redactUrl } from '../../stores/postgres-database';
import { clientFromFlags, connectionOptions, jsonOption, storeOption } from '../options';
import { transcriptLine } from '../render';
import { withStore } from './checkpoint';

interface Flags extends WorkerFlags {
  store?: string;
  json?: boolean;
  follow?: boolean;
}

/**
 * `tao transcript`: what happened inside an agent step (turns, text, tool
 * calls, usage, delegated tasks, attempts), from the store its worker wrote
 * to. `--follow` prints events as they land until the step ends or Ctrl-C
 * (it asks the run, with the connection flags, whether the step still runs:
 * a step whose retries ran out after a crash writes no final event); with
 * `--json`, one JSON event per line.
 */
export function registerTranscript(program: Command): void {
  const transcript = jsonOption(storeOption(connectionOptions(program.command('transcript'))))
    .description("show an agent step's transcript: turns, text, tool calls, usage, attempts")
    .argument('<workflowId>', 'the workflow that ran the step (a split run: the child that holds it)')
    .argument('<taskId>', "the step's task id")
    .option('--follow', 'print events as they land, until the step ends (Ctrl-C stops watching)')
    .action(async (workflowId: string, taskId: string, flags: Flags) => {
      await withStore(flags, async (store, ref) => {
        if (flags.follow) {
          const stop = new AbortController();
          const interrupt = () => stop.abort();
          process.once('SIGINT', interrupt);
          const client = await clientFromFlags(flags).catch((error: unknown) => {
            console.error(
              `cannot ask the run whether the step still runs (${(error as Error).message}): following until its final event or Ctrl-C`,
            );
            return undefined;
          });
          try {
            const events = followStep(store, workflowId, taskId, {
              signal: stop.signal,
              ...(client ? { client } : {}),
            });
            for await (const event of events) {
              console.log(flags.json ? JSON.stringify(event) : transcriptLine(event));
            }
          } finally {
            process.off('SIGINT', interrupt);
            await client?.connection.close();
          }
          return;
        }
        const found = await stepTranscript(store, workflowId, taskId);
        if (!found) {
          throw new Error(
            `no transcript of step ${taskId} of ${workflowId} in ${redactUrl(ref)}; only llm steps keep one, in the store their workers use: give that one with --store`,
          );
        }
        console.log(
          flags.json ? JSON.stringify(found, null, 2) : found.events.map(transcriptLine).join('\n'),
        );
      });
    });

  storeOption(transcript.command('rm'))
    .description("remove a step's transcript, or every step's of a workflow")
    .argument('<workflowId>')
    .argument('[taskId]')
    .action(async (workflowId: string, taskId: string | undefined, _flags: Flags, command: Command) => {
      await withStore(storeFlags(command), async (store, ref) => {
        const removed = await removeTranscripts(store, workflowId, taskId);
        if (removed === 0) {
          const which =
            taskId === undefined ? `of workflow ${workflowId}` : `of step ${taskId} of ${workflowId}`;
          throw new Error(`no transcript ${which} in ${redactUrl(ref)}`);
        }
        console.log(`removed ${removed} transcript${removed === 1 ? '' : 's'}`);
      });
    });
}

/**
 * A subcommand's flags with its parent's: `tao transcript` takes `--store` for
 * itself, and so parses it even when it comes after `rm`.
 */
const storeFlags = (command: Command): Flags => command.optsWithGlobals<Flags>();
