/**
 * Runs the real `tao` bin as a child process. The sources are compiled once
 * per content hash into `.tao/test/cli-<hash>/` laid out like the installed
 * package (bin/, dist/, package.json), so a stale `npm run build` can never
 * be what a test exercises. swc compiles in well under a second; type checking
 * is `tsc --noEmit`'s job. Concurrent runs build apart and rename into place.
 */
import { spawn } from 'node:child_process';
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
import { dirname, join, relative } from 'node:path';
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
  for (const file of [...sources, join(ROOT, 'bin', 'tao.js'), join(ROOT, 'package.json')]) {
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

export interface TaoRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface TaoOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** The caller's env minus the CLI's own settings, so a developer's TEMPORAL_ADDRESS or TAO_* cannot steer a test. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^TAO_/.test(name) && name !== 'TEMPORAL_ADDRESS' && name !== 'TEMPORAL_NAMESPACE',
    ),
  );
}

/** Runs `tao <args>` to completion, using the real .tao for Temporal binaries. */
export function tao(args: readonly string[], options: TaoOptions = {}): Promise<TaoRun> {
  bin ??= buildCli();
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...cleanEnv(), TAO_HOME: taoHome(), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
