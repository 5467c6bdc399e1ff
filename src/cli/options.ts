/**
 * Flags shared by several commands, declared once so their names, help and
 * env fallbacks agree everywhere. Commands resolve them with
 * `resolveWorkerConfig` (flag, else env, else default), which also validates.
 */
import type { Client } from '@temporalio/client';
import type { OpenTelemetryPluginOptions } from '@temporalio/interceptors-opentelemetry';
import { type Command, InvalidArgumentError } from 'commander';
import { connectClient, resolveConnection } from '../client';
import type { RunSpec } from '../client/spec-file';
import {
  type WorkerConfig,
  type WorkerFlags,
  payloadSettings,
  resolveWorkerConfig,
} from '../config/worker-config';
import { envTracing } from '../telemetry/tracing';

/**
 * Where the server is and how to reach it, named as the Temporal CLI names
 * them (resolved by src/connection: flags over TEMPORAL_* env over the TOML
 * profile), and where payloads too large for its history live.
 */
export function connectionOptions(command: Command): Command {
  return payloadOptions(
    command
      .optionsGroup('Temporal connection (as the Temporal CLI; flags over env over profile):')
      .option('--address <host:port>', 'Temporal frontend [env TEMPORAL_ADDRESS, default 127.0.0.1:7233]')
      .option('--namespace <name>', 'Temporal namespace [env TEMPORAL_NAMESPACE, default default]')
      .option(
        '--profile <name>',
        'profile in the Temporal config file [env TEMPORAL_PROFILE, default default]',
      )
      .option(
        '--config-file <path>',
        'Temporal TOML config file [env TEMPORAL_CONFIG_FILE, default ~/.config/temporalio/temporal.toml]',
      )
      .option('--api-key <key>', 'API key, sent as a bearer token; prefer the env [env TEMPORAL_API_KEY]')
      .option(
        '--tls',
        'connect with TLS (implied by the other TLS flags and by an API key) [env TEMPORAL_TLS]',
      )
      .option('--tls-ca-path <file>', "CA certificate of the server's [env TEMPORAL_TLS_SERVER_CA_CERT_PATH]")
      .option('--tls-cert-path <file>', 'client certificate, for mTLS [env TEMPORAL_TLS_CLIENT_CERT_PATH]')
      .option('--tls-key-path <file>', 'client private key, for mTLS [env TEMPORAL_TLS_CLIENT_KEY_PATH]')
      .option(
        '--tls-server-name <name>',
        'name to verify the server certificate against [env TEMPORAL_TLS_SERVER_NAME]',
      )
      .option(
        '--tls-disable-host-verification',
        'not supported by the TypeScript SDK; refused with a hint [env TEMPORAL_TLS_DISABLE_HOST_VERIFICATION]',
      )
      .optionsGroup('Options:'),
  );
}

/** A client for the server and payload settings that a command's flags (then env, then profile) describe. */
export async function clientFromFlags(flags: WorkerFlags): Promise<Client> {
  return connectClient({
    connection: resolveConnection(flags),
    payloads: payloadSettings(resolveWorkerConfig(flags)),
    ...(await tracingOption()),
  });
}

/** The client's share of the `OTEL_*` tracing, if any: what it starts begins the run's trace. */
export async function tracingOption(): Promise<{ tracing?: OpenTelemetryPluginOptions }> {
  const tracing = await envTracing();
  return tracing ? { tracing: tracing.options } : {};
}

/** How payloads are stored and sealed; every worker, client and codec server of a deployment must agree. */
export function payloadOptions(command: Command): Command {
  return command
    .option(
      '--blobs <ref>',
      'where payloads too large for history go: a directory, s3://bucket/prefix or postgres://… [env TAO_BLOBS, default .tao/blobs]',
    )
    .option(
      '--encryption-key-file <file>',
      'encrypt every payload with the keys in this owner-only file (or the keys themselves in env TAO_ENCRYPTION_KEYS) [env TAO_ENCRYPTION_KEY_FILE]',
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
    .option('--concurrency <n>', "steps in flight, overriding the executor's hint [env TAO_CONCURRENCY]")
    .option(
      '--sticky-queue-timeout-ms <ms>',
      "how long a dead worker's workflows wait before another worker takes them [env TAO_STICKY_QUEUE_TIMEOUT_MS, default 3000]",
    )
    .option(
      '--stall-timeout-ms <ms>',
      'retry a step attempt whose executor shows no progress (output, tool result, model chunk) for this long [env TAO_STALL_TIMEOUT_MS, default 300000]',
    )
    .option(
      '--trace-content',
      'with tracing on, model and tool spans carry prompts, answers and tool I/O, scrubbed of known secrets [env TAO_TRACE_CONTENT=true]',
    )
    .option(
      '--deployment-name <name>',
      'Worker Versioning (docs/versioning.md): the worker deployment; give --build-id too, or neither for an unversioned worker [env TEMPORAL_DEPLOYMENT_NAME; tao dev: tao-dev]',
    )
    .option(
      '--build-id <id>',
      'Worker Versioning: the build of the code; a run stays on the build it started on [env TEMPORAL_WORKER_BUILD_ID; tao dev: <TAO version>-<workflow code digest>]',
    );
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

/** Commander argument parser for a flag given once per value: each adds to the list (default `[]`). */
export const repeated = (value: string, all: string[]): string[] => [...all, value];

/** Commander argument parser for port flags; a bad value gets commander's own error. */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65_535)
    throw new InvalidArgumentError('must be a port, 1-65535');
  return port;
}
