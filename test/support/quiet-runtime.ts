import { DefaultLogger, Runtime } from '@temporalio/worker';

// Worker lifecycle chatter drowns test output; keep errors (expected step failures log warnings by design). The
// runtime is per process and jest reuses processes across files, so install once.
try {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
} catch {
  // already installed by an earlier test file in this process
}
