import type { Command } from 'commander';
import { type WorkerFlags, resolveWorkerConfig } from '../../config/worker-config';
import { localNamespace } from '../../connection/settings';
import { DEFAULT_DB_FILE, DEFAULT_UI_PORT, startLocalStack } from '../local-stack';
import { payloadOptions, parsePort, workerOptions } from '../options';

const DEFAULT_PORT = 7233;

interface DevFlags extends WorkerFlags {
  port: number;
  uiPort: number;
  db: string;
}

export function registerDev(program: Command): void {
  const command = program
    .command('dev')
    .description(
      'run a local Temporal dev server (history in a SQLite file, Web UI) and a TAO worker until Ctrl-C',
    )
    .option('--port <port>', 'Temporal frontend port', parsePort, DEFAULT_PORT)
    .option('--ui-port <port>', 'Web UI port', parsePort, DEFAULT_UI_PORT)
    .option('--db <file>', 'SQLite file holding the history', DEFAULT_DB_FILE)
    .option('--namespace <name>', 'namespace to create and serve [env TEMPORAL_NAMESPACE, default default]');
  payloadOptions(workerOptions(command)).action(async (flags: DevFlags) => {
    const config = resolveWorkerConfig(flags);
    const stack = await startLocalStack({
      config,
      namespace: localNamespace(flags.namespace),
      dbFile: flags.db,
      port: flags.port,
      uiPort: flags.uiPort,
      logLevel: 'WARN',
    });
    console.error(
      [
        `Temporal dev server at ${stack.address} (history in ${flags.db})`,
        `Web UI at ${stack.uiUrl} (payloads decoded by the codec server at ${stack.codecUrl})`,
        `worker polling task queue ${config.taskQueue} (executor ${config.executor}, store ${config.store})`,
        `  as build ${stack.version.buildId} of worker deployment ${stack.version.deploymentName}, which new runs go to`,
        'try: tao run examples/pipeline.yaml · Ctrl-C stops the server and the worker',
      ].join('\n'),
    );
    try {
      await stack.worker.run();
    } finally {
      await stack.stop();
    }
    console.error('stopped');
  });
}
