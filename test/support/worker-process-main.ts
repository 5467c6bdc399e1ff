/**
 * Entry of a TAO worker in its own OS process, so a test can SIGKILL it for
 * real: started by `startWorkerProcess` (worker-process.ts), never by jest.
 * It runs the product worker (`createTaoWorker`) with a file (or given) store and a
 * scripted (or given) executor that logs every step's side effects to a shared file.
 */
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { taoDataConverter } from '../../src/codec';
import { createExecutor } from '../../src/executors/registry';
import { ScriptExecutor } from '../../src/executors/script';
import { createOutcomeStore } from '../../src/outcomes';
import { createStore } from '../../src/stores/registry';
import { createTaoWorker } from '../../src/worker';
import { SideEffectLogExecutor } from './side-effect-log';
import type { WorkerProcessConfig } from './worker-process';

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]!) as WorkerProcessConfig;
  // Killed workers and timed-out activities are the point of these tests; core would warn about each.
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
  });
  const storeRef = config.storeRef ?? `file:${config.storeDir}`;
  const store = await createStore(storeRef);
  const connection = await NativeConnection.connect({ address: config.address });
  const worker = await createTaoWorker({
    connection,
    executor: new SideEffectLogExecutor(
      config.executorRef ? await createExecutor(config.executorRef) : new ScriptExecutor(config.script),
      config.logFile,
    ),
    store,
    // Beside the checkpoints, as the product's worker keeps them (src/worker.ts).
    outcomes: createOutcomeStore(storeRef),
    taskQueue: config.taskQueue,
    workflowBundle: { codePath: config.bundlePath },
    ...(config.blobsDir ? { dataConverter: taoDataConverter({ blobs: config.blobsDir }) } : {}),
  });
  // The parent holds our stdin; it closes when the parent dies however it dies, so never outlive it.
  process.stdin.once('end', () => {
    setTimeout(() => process.exit(1), 5_000).unref();
    try {
      worker.shutdown();
    } catch {
      process.exit(1); // not running yet, or already stopping
    }
  });
  process.stdin.resume();
  process.stdout.write('ready\n');
  // SIGTERM (a clean stop) is handled by the Temporal runtime: it shuts the worker down and run() returns.
  await worker.run();
  await connection.close();
  process.exit(0); // stdin keeps the event loop alive otherwise
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
