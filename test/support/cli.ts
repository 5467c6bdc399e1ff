/**
 * Runs the real `tao` bin as a child process. The sources are compiled once
 * per content hash into `.tao/test/cli-<hash>/` laid out like the installed
 * package (bin/, dist/ with its prebuilt workflow bundles, package.json), so a
 * stale `npm run build` can never be what a test exercises. swc compiles in
 * well under a second, the bundles take seconds; type checking is `tsc --noEmit`'s job. Concurrent runs build apart and rename into place.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { transformFileSync } from '@swc/core';
import { taoHome } from '../../src/local/temporal-binaries';

const ROOT = join(__dirname, '..', '..');

function sourceFiles(dir = join(ROOT, 'src')): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : [join(dir, entry.name)]))
    .filter((file) => file.endsWith('.ts'))
    .sort();
}

function buildCli(): string {
  const sources = sourceFiles();
  const hash = createHash('sha256');
  const page = readdirSync(join(ROOT, 'ui')).map((name) => join(ROOT, 'ui', name));
  for (const file of [...sources, ...page, join(ROOT, 'bin', 'tao.js'), join(ROOT, 'package.json')]) {
    hash.update(relative(ROOT, file)).update(readFileSync(file));
  }
  const dir = join(taoHome(), 'test', `cli-${hash.digest('hex').slice(0, 12)}`);
  const bin = join(dir, 'bin', 'tao.js');
  if (existsSync(bin)) return bin;

  const staging = `${dir}.tmp-${process.pid}`;
  for (const file of sources) {
    const target = join(staging, 'dist', relative(join(ROOT, 'src'), file)).replace(/\.ts$/, '.js');
    const { code } = transformFileSync(file, {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'commonjs' },
    });
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, code);
  }
  // As `npm run build` does: workers then load TAO's workflows prebuilt.
  execFileSync(process.execPath, [
    '-e',
    `require(${JSON.stringify(join(staging, 'dist', 'workflow-bundles.js'))}).buildWorkflowBundles(${JSON.stringify(join(staging, 'dist'))})`,
  ]);
  // `tao ui`'s page, served from ui/ beside dist/ as in the package.
  mkdirSync(join(staging, 'ui'));
  for (const file of page) copyFileSync(file, join(staging, 'ui', basename(file)));
  mkdirSync(join(staging, 'bin'));
  copyFileSync(join(ROOT, 'bin', 'tao.js'), join(staging, 'bin', 'tao.js'));
  copyFileSync(join(ROOT, 'package.json'), join(staging, 'package.json'));
  try {
    renameSync(staging, dir);
  } catch {
    // Another test process built the same sources first; theirs is identical.
    rmSync(staging, { recursive: true, force: true });
  }
  pruneOldBuilds(dirname(dir));
  return bin;
}

/** Builds of older sources pile up as code changes; a day-old one is no longer in use by any run. */
function pruneOldBuilds(parent: string): void {
  for (const name of readdirSync(parent).filter((n) => n.startsWith('cli-'))) {
    const path = join(parent, name);
    if (Date.now() - statSync(path).mtimeMs > 24 * 3_600_000) rmSync(path, { recursive: true, force: true });
  }
}

let bin: string | undefined;

/** The directory the sources are built into, laid out as the installed package (bin/, dist/). */
export function builtPackage(): string {
  bin ??= buildCli();
  return dirname(dirname(bin));
}

export interface TaoRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface TaoOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Node's own flags, before the CLI's path (those NODE_OPTIONS refuses, as `--trace-gc`). */
  nodeFlags?: string[];
}

/**
 * The caller's env minus the CLI's own settings, so a developer's TAO_*, OTEL_* or
 * TEMPORAL_* connection settings cannot steer a test (the binaries' paths stay).
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['TEMPORAL_CLI_PATH', 'TEMPORAL_TEST_SERVER_PATH']);
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(TAO|TEMPORAL|OTEL)_/.test(name) || keep.has(name)),
  );
}

function spawnTao(args: readonly string[], options: TaoOptions): ChildProcessWithoutNullStreams {
  bin ??= buildCli();
  return spawn(process.execPath, [...(options.nodeFlags ?? []), bin, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...cleanEnv(), TAO_HOME: taoHome(), ...options.env },
  });
}

export interface TaoProcess {
  readonly pid: number;
  /** Everything it printed so far, both streams. */
  output(): string;
  /** Resolves once `text` has been printed; rejects if the process exits first or `timeoutMs` passes. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** SIGKILL, as a crash. */
  kill(): Promise<void>;
  /** SIGTERM (a clean stop), SIGKILL after 10 s. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcessWithoutNullStreams>();

/** Starts a long-running `tao` command (`worker`, `dev`, `codec-server`); `stopTaoProcesses` in afterAll reaps it. */
export function startTao(args: readonly string[], options: TaoOptions = {}): TaoProcess {
  const child = spawnTao(args, options);
  running.add(child);
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  void exited.then(() => running.delete(child));
  const listeners = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const matches = (text: string | RegExp) =>
    typeof text === 'string' ? output.includes(text) : text.test(output);
  const signal = async (name: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    await exited;
  };
  return {
    pid: child.pid!,
    output: () => output,
    waitFor: (text, timeoutMs = 30_000) =>
      new Promise<void>((resolve, reject) => {
        const settle = (error?: Error) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve();
        };
        const check = () => matches(text) && settle();
        const timer = setTimeout(
          () => settle(new Error(`tao ${args[0]}: no ${text} within ${timeoutMs} ms: ${output}`)),
          timeoutMs,
        );
        listeners.add(check);
        void exited.then(() =>
          settle(matches(text) ? undefined : new Error(`tao ${args[0]} exited: ${output}`)),
        );
        check();
      }),
    kill: () => signal('SIGKILL'),
    stop: async () => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await signal('SIGTERM');
      clearTimeout(timer);
    },
  };
}

/** For afterAll: kills whatever `startTao` left running. */
export async function stopTaoProcesses(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('close', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/** Runs `tao <args>` to completion, using the real .tao for Temporal binaries. */
export function tao(args: readonly string[], options: TaoOptions = {}): Promise<TaoRun> {
  const child = spawnTao(args, options);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export const examplePath = (name: string) => join(ROOT, 'examples', name);
