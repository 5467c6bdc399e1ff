import type { Command } from 'commander';
import { connectClient } from '../../client';
import { type WorkerFlags, payloadSettings, resolveWorkerConfig } from '../../config/worker-config';
import { localNamespace } from '../../connection/settings';
import { DEFAULT_DB_FILE, DEFAULT_UI_PORT } from '../local-defaults';
import { payloadOptions, parsePort, workerOptions } from '../options';
import { DEFAULT_TAO_UI_PORT, uiBanner } from './ui';

const DEFAULT_PORT = 7233;

interface DevFlags extends WorkerFlags {
  port: number;
  uiPort: number;
  taoUiPort: number;
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
    .option('--tao-ui-port <port>', 'TAO UI port (tao ui), on loopback', parsePort, DEFAULT_TAO_UI_PORT)
    .option('--db <file>', 'SQLite file holding the history', DEFAULT_DB_FILE)
    .option('--namespace <name>', 'namespace to create and serve [env TEMPORAL_NAMESPACE, default default]');
  payloadOptions(workerOptions(command)).action(async (flags: DevFlags) => {
    const config = resolveWorkerConfig(flags);
    const namespace = localNamespace(flags.namespace);
    const [{ startLocalStack }, { startUiServer }, { isListening }] = await Promise.all([
      import('../local-stack'),
      import('../../ui/server'),
      import('../../local/dev-server'),
    ]);
    const stack = await startLocalStack({
      config,
      namespace,
      dbFile: flags.db,
      port: flags.port,
      uiPort: flags.uiPort,
      logLevel: 'WARN',
    });
    const closers: (() => Promise<void>)[] = [];
    try {
      // The page reads and steers runs as `tao ui` would, through a client of its own on the dev server.
      const client = await connectClient({
        connection: { address: stack.address, namespace },
        payloads: payloadSettings(config),
      });
      closers.push(() => client.connection.close());
      const ui = await startUiServer({
        client,
        store: stack.store,
        outcomes: stack.outcomes,
        // A second `tao dev` (another db) still gets its page, on any free port; the banner says which.
        port: (await isListening(flags.taoUiPort)) ? 0 : flags.taoUiPort,
        ...(stack.uiUrl ? { temporalUiUrl: stack.uiUrl } : {}),
      });
      closers.push(() => ui.close());
      console.error(
        [
          `Temporal dev server at ${stack.address} (history in ${flags.db})`,
          `Web UI at ${stack.uiUrl} (payloads decoded by the codec server at ${stack.codecUrl})`,
          uiBanner(ui),
          `worker polling task queue ${config.taskQueue} (executor ${config.executor}, store ${config.store})`,
          `  as build ${stack.version.buildId} of worker deployment ${stack.version.deploymentName}, which new runs go to`,
          'try: tao run examples/pipeline.yaml · Ctrl-C stops the server and the worker',
        ].join('\n'),
      );
      await stack.worker.run();
    } finally {
      for (const close of closers.reverse()) await close();
      await stack.stop();
    }
    console.error('stopped');
  });
}
