import { DefaultLogger, Runtime } from '@temporalio/worker';

// Worker chatter drowns test output, and tests fail steps and kill runs on
// purpose (which core and the SDK log as warnings). Keep errors only. The
// runtime is per process and jest reuses processes across files, so install once.
try {
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
  });
} catch {
  // already installed by an earlier test file in this process
}
