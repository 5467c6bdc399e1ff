/**
 * Flags shared by several commands, declared once so their names, help and
 * env fallbacks agree everywhere. Commands resolve them with
 * `resolveWorkerConfig` (flag, else env, else default), which also validates.
 */
import { type Command, InvalidArgumentError } from 'commander';
import type { WorkerConfig } from '../config/worker-config';
import type { RunSpec } from '../client/spec-file';

/** Where the server is, and where payloads too large for its history live (shared by clients and workers). */
export function connectionOptions(command: Command): Command {
  return blobsOption(
    command
      .option('--address <host:port>', 'Temporal frontend [env TEMPORAL_ADDRESS, default 127.0.0.1:7233]')
      .option('--namespace <name>', 'Temporal namespace [env TEMPORAL_NAMESPACE, default default]'),
  );
}

export function blobsOption(command: Command): Command {
  return command.option(
    '--blobs <dir>',
    'directory for payloads too large for history, shared by workers and clients [env TAO_BLOBS, default .tao/blobs]',
  );
}

export function taskQueueOption(command: Command): Command {
  return command.option(
    '--task-queue <name>',
    'task queue the workers poll [env TAO_TASK_QUEUE, default tao]',
  );
}

export function storeOption(command: Command): Command {
  return command.option(
    '--store <ref>',
    'checkpoint store: file:<dir>, postgres://… or memory [env TAO_STORE, default file:.tao]',
  );
}

/** What an in-process worker runs with: `tao dev` and `tao run --embedded`, via {@link workerOptions} for `tao worker`. */
export function executorOptions(command: Command): Command {
  return storeOption(command)
    .option(
      '--executor <ref>',
      'agent executor: script, script:<rules file>, llm, llm:<config file> or command:<config file> [env TAO_EXECUTOR, default script]',
    )
    .option('--concurrency <n>', "steps in flight, overriding the executor's hint [env TAO_CONCURRENCY]");
}

export function workerOptions(command: Command): Command {
  return executorOptions(taskQueueOption(command));
}

/** Options of the commands that start a run from a spec file. */
export function startOptions(command: Command): Command {
  return taskQueueOption(connectionOptions(command)).option(
    '--id <workflowId>',
    "workflow id (overrides the spec's id; default <kind>-<random>)",
  );
}

/** Where a run goes: the flag, else the spec file's `taskQueue` (specific to this run), else env / default. */
export function runTaskQueue(flagValue: string | undefined, spec: RunSpec, config: WorkerConfig): string {
  return flagValue ?? spec.taskQueue ?? config.taskQueue;
}

export function jsonOption(command: Command): Command {
  return command.option('--json', 'print machine-readable JSON instead of a table');
}

/** Commander argument parser for port flags; a bad value gets commander's own error. */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65_535)
    throw new InvalidArgumentError('must be a port, 1-65535');
  return port;
}
