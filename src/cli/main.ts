/**
 * The `tao` command line (`main`, run by bin/tao.js). Every command is built
 * on the programmatic client (src/client.ts) and the worker (src/worker.ts);
 * neither imports anything from here.
 */
import { Command, CommanderError } from 'commander';
import { InputError } from '../config/data-file';
import { shutdownEnvTracing } from '../telemetry/tracing';
import { registerCache } from './commands/cache';
import { registerCheckpoint } from './commands/checkpoint';
import { registerCodecServer } from './commands/codec-server';
import { registerDeployment } from './commands/deployment';
import { registerGc } from './commands/gc';
import { registerDev } from './commands/dev';
import { registerKeygen } from './commands/keygen';
import { registerRerun } from './commands/rerun';
import { registerResults } from './commands/results';
import { registerRun } from './commands/run';
import { registerSetup } from './commands/setup';
import { registerTranscript } from './commands/transcript';
import { registerUi } from './commands/ui';
import { registerWorker } from './commands/worker';
import { registerWorkflowCommands } from './commands/workflows';
import { packageVersion } from './package-version';

/** Exit codes: 0 ok, 1 the run or the server failed, 2 bad usage or a bad input file (nothing was started). */
const USAGE_ERROR = 2;

function buildProgram(): Command {
  const program = new Command('tao')
    .description('TAO: durable parallel, pipeline and resumable agent-step workflows on Temporal')
    .version(packageVersion())
    // Set before the commands are added, which inherit it: errors come back to main instead of exiting.
    .exitOverride()
    .showHelpAfterError('(add --help for usage)');
  registerDev(program);
  registerWorker(program);
  registerDeployment(program);
  registerRun(program);
  registerRerun(program);
  registerWorkflowCommands(program);
  registerResults(program);
  registerCheckpoint(program);
  registerCache(program);
  registerTranscript(program);
  registerGc(program);
  registerSetup(program);
  registerKeygen(program);
  registerCodecServer(program);
  registerUi(program);
  return program;
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  // gRPC's TLS to an IP address sets an IP as the server name, and Node warns about it on every run;
  // the user can do nothing about it, and the CLI's stderr is for lines they can act on.
  process.noDeprecation = true;
  // The AWS SDK (S3 blobs) warns on Node 20 that its releases after January 2027 need Node 22; the
  // lockfile pins a release that runs here, so the warning has nothing for a user to do either.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the message (or the help / version) already.
      process.exitCode = error.exitCode === 0 ? 0 : USAGE_ERROR;
      return;
    }
    console.error(`tao: ${(error as Error).message ?? String(error)}`);
    process.exitCode = error instanceof InputError ? USAGE_ERROR : 1;
  } finally {
    await shutdownEnvTracing();
  }
}
