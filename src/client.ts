/**
 * TAO's client side: the `tao` command line (`main`, run by bin/tao.js) and
 * the programmatic API it is built on, for TypeScript users who start and
 * follow runs themselves.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { InputError } from './config/data-file';
import { registerCheckpoint } from './cli/commands/checkpoint';
import { registerDev } from './cli/commands/dev';
import { registerRun } from './cli/commands/run';
import { registerSetup } from './cli/commands/setup';
import { registerWorker } from './cli/commands/worker';
import { registerWorkflowCommands } from './cli/commands/workflows';

export { RunSpecSchema, loadSpecFile, type RunSpec, type WorkflowKind } from './cli/spec-file';
export {
  WORKFLOW_TYPES,
  connectClient,
  fetchProgress,
  startRun,
  type RunResult,
  type StartRunOptions,
} from './cli/runs';
export { watchRun, type WatchOptions, type Watched } from './cli/watch';

/** Exit codes: 0 ok, 1 the run or the server failed, 2 bad usage or a bad input file (nothing was started). */
const USAGE_ERROR = 2;

// Read at run time: package.json sits outside the compiled tree (src/ and dist/ alike).
const packageVersion = (): string =>
  (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

function buildProgram(): Command {
  const program = new Command('tao')
    .description('TAO: durable parallel, pipeline and resumable agent-step workflows on Temporal')
    .version(packageVersion())
    // Set before the commands are added, which inherit it: errors come back to main instead of exiting.
    .exitOverride()
    .showHelpAfterError('(add --help for usage)');
  registerDev(program);
  registerWorker(program);
  registerRun(program);
  registerWorkflowCommands(program);
  registerCheckpoint(program);
  registerSetup(program);
  return program;
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
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
  }
}
