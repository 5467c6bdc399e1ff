// A bare SDK worker for the payloads section's floor: the SDK and TAO's codec
// (claim checks, as a TAO worker has), none of TAO's activities, stores or
// telemetry. Plain JavaScript, so its memory holds no TypeScript compiler.
// Arguments: address, task queue, blobs, workflow bundle path, TAO's built dist/, and optionally a plain
// JavaScript module whose exports are the worker's activities (the batch section's hand-written batch).
const { NativeConnection, Runtime, Worker } = require('@temporalio/worker');

async function main() {
  const [address, taskQueue, blobs, codePath, dist, activitiesPath] = process.argv.slice(2);
  const { taoDataConverter } = require(`${dist}/codec`);
  const quiet = () => undefined;
  Runtime.install({
    logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet },
  });
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowBundle: { codePath },
    dataConverter: taoDataConverter({ blobs }),
    ...(activitiesPath ? { activities: require(activitiesPath) } : {}),
  });
  console.log('worker polling task queue');
  await worker.run();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
