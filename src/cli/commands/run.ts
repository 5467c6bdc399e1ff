import type { Client, WorkflowHandle } from '@temporalio/client';
import { type Command, Option } from 'commander';
import { InputError } from '../../config/data-file';
import { type WorkerConfig, payloadSettings, resolveWorkerConfig } from '../../config/worker-config';
import { localNamespace } from '../../connection/settings';
import { DEFAULT_DB_FILE, DEFAULT_UI_PORT } from '../local-defaults';
import {
  clientFromFlags,
  executorOptions,
  jsonOption,
  parsePort,
  runTaskQueue,
  startOptions,
  tracingOption,
} from '../options';
import { explainWorkflowError, reportResult } from '../report';
import { connectClient, loadSpecFile, startRun, watchRun, WORKFLOW_TYPES, type RunSpec } from '../../client';
import { expectedSteps } from '../../client/spec-file';

interface RunFlags {
  address?: string;
  namespace?: string;
  taskQueue?: string;
  executor?: string;
  store?: string;
  concurrency?: string;
  id?: string;
  json?: boolean;
  embedded?: boolean;
  db: string;
  uiPort: number;
}

export function registerRun(program: Command): void {
  const command = program
    .command('run')
    .description('start the workflow a spec file describes, show live progress, then print its results')
    .argument(
      '<file>',
      'run spec, YAML or JSON: { workflow: parallel|pipeline|resumable, input, id?, taskQueue? }',
    );
  executorOptions(
    jsonOption(startOptions(command))
      .optionsGroup('Embedded run:')
      .addOption(
        new Option(
          '--embedded',
          'start a local dev server and worker for this run, stop both after',
        ).conflicts('address'),
      ),
  )
    .option('--db <file>', 'SQLite file holding the history', DEFAULT_DB_FILE)
    .option('--ui-port <port>', 'Web UI port (any free one if taken)', parsePort, DEFAULT_UI_PORT)
    .action(async (file: string, flags: RunFlags) => {
      const spec = await loadSpecFile(file);
      const config = resolveWorkerConfig(flags);
      const taskQueue = runTaskQueue(flags.taskQueue, spec, config);
      const follow = (client: Client) => followNewRun(client, spec, { taskQueue, flags });
      if (flags.embedded) {
        process.exitCode = await runEmbedded({ ...config, taskQueue }, flags, follow);
        return;
      }
      if (flags.executor ?? flags.store ?? flags.concurrency) {
        throw new InputError(
          '--executor, --store and --concurrency configure a worker: add --embedded, or pass them to `tao worker`',
        );
      }
      const client = await clientFromFlags(flags);
      try {
        process.exitCode = await follow(client);
      } finally {
        await client.connection.close();
      }
    });
}

async function followNewRun(
  client: Client,
  spec: RunSpec,
  { taskQueue, flags }: { taskQueue: string; flags: RunFlags },
): Promise<number> {
  const handle = await startRun(client, spec, { taskQueue, ...(flags.id ? { workflowId: flags.id } : {}) });
  console.error(`started ${handle.workflowId} (${WORKFLOW_TYPES[spec.workflow]}) on task queue ${taskQueue}`);
  return followStarted(handle, {
    taskQueue,
    expectedSteps: expectedSteps(spec),
    json: flags.json ?? false,
    detachable: !flags.embedded,
  });
}

/** Shows a run just started until it ends, then its results; returns the exit code. */
export async function followStarted(
  handle: WorkflowHandle,
  options: { taskQueue: string; expectedSteps: number; json: boolean; detachable: boolean },
): Promise<number> {
  const id = handle.workflowId;
  // Outside an embedded run, Ctrl-C only stops watching: the run is durable and goes on without us.
  const detach = () => {
    console.error(`\ndetached; ${id} keeps running (tao status ${id}, tao result ${id})`);
    process.exit(130);
  };
  if (options.detachable) process.once('SIGINT', detach);
  try {
    const { result, progress } = await watchRun(handle, {
      expectedSteps: options.expectedSteps,
      waitingFor: `a worker on task queue ${options.taskQueue} (start one with \`tao worker\`)`,
      followOutput: true,
    });
    return reportResult(result, progress, options.json);
  } catch (error) {
    throw explainWorkflowError(error, id);
  } finally {
    process.off('SIGINT', detach);
  }
}

async function runEmbedded(
  config: WorkerConfig,
  flags: RunFlags,
  follow: (client: Client) => Promise<number>,
): Promise<number> {
  console.error('starting a local Temporal dev server and worker (the first run installs the Temporal CLI)…');
  const namespace = localNamespace(flags.namespace);
  const { startLocalStack } = await import('../local-stack');
  const stack = await startLocalStack({
    config,
    namespace,
    dbFile: flags.db,
    uiPort: flags.uiPort,
    uiPortFallback: true,
    // The progress line reports failed attempts already; worker warnings would only break it up.
    logLevel: 'ERROR',
  });
  console.error(`Temporal at ${stack.address}, Web UI at ${stack.uiUrl} (history kept in ${flags.db})`);
  let interrupted = false;
  const onInterrupt = () => (interrupted = true);
  process.once('SIGINT', onInterrupt);
  try {
    const client = await connectClient({
      connection: { address: stack.address, namespace },
      payloads: payloadSettings(config),
      ...(await tracingOption()),
    });
    try {
      const code = await stack.worker.runUntil(() => follow(client));
      await client.connection.close();
      return code;
    } catch (error) {
      if (!interrupted) {
        await client.connection.close();
        throw error;
      }
    }
  } finally {
    process.off('SIGINT', onInterrupt);
    await stack.stop();
  }
  // Interrupted: the client may still be retrying calls to the stopped server, and closing it under a pending
  // retry crashes in the SDK, so leave it open and end the process here.
  console.error(`\ninterrupted: the run is kept in ${flags.db}; \`tao dev --db ${flags.db}\` resumes it`);
  process.exit(130);
}
