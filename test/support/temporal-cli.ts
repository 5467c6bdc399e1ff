/**
 * The real `temporal` CLI binary (the one jest's global setup found, in
 * TEMPORAL_CLI_PATH) pointed at the run's dev server: what a user types.
 */
import { execFile } from 'node:child_process';
import { devServerAddress } from './temporal';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `temporal <args> --output json` against the dev server; never throws on a non-zero exit. */
export function temporalCli(args: readonly string[], timeoutMs = 60_000): Promise<CliRun> {
  const cli = process.env.TEMPORAL_CLI_PATH;
  if (!cli) throw new Error('TEMPORAL_CLI_PATH unset: run tests through jest (global setup finds the CLI)');
  // Flags, not TEMPORAL_ADDRESS or a profile, so a developer's own settings cannot steer a test.
  const argv = [...args, '--address', devServerAddress(), '--namespace', 'default', '--output', 'json'];
  return new Promise((resolve) => {
    execFile(cli, argv, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `temporalCli`, expecting success, with stdout parsed as JSON. */
export async function temporalJson<T>(args: readonly string[]): Promise<T> {
  const run = await temporalCli(args);
  if (run.code !== 0) {
    throw new Error(`temporal ${args.join(' ')} exited ${run.code}: ${run.stderr.trim() || run.stdout}`);
  }
  return JSON.parse(run.stdout) as T;
}

/** `temporal workflow update execute`: what a user types to send an Update; the Update's result. */
export async function updateFromCli(workflowId: string, name: string, input?: unknown): Promise<unknown> {
  const args = ['workflow', 'update', 'execute', '--workflow-id', workflowId, '--name', name];
  if (input !== undefined) args.push('--input', JSON.stringify(input));
  return (await temporalJson<{ result: unknown }>(args)).result;
}
