import { DefaultLogger, Runtime } from '@temporalio/worker';

// As the CLI does (src/cli/main.ts): the AWS SDK's notice about its 2027 releases needing Node 22.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

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
