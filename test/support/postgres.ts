/**
 * A real, throwaway PostgreSQL for tests: a fresh cluster in a temp directory,
 * listening on a free loopback port, stopped and removed afterwards.
 * `.ci/run` installs Debian's postgresql package when the binaries are absent.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/local/dev-server';

export interface TestPostgres {
  url: string;
  port: number;
  /** Stops the server, keeping its data, as an outage would. */
  stop(): void;
  start(): void;
  destroy(): void;
}

function binDir(): string {
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return join(onPath, '..');
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort() : [];
  const dir = versions.length ? join(root, versions[versions.length - 1]!, 'bin') : undefined;
  if (!dir || !existsSync(join(dir, 'initdb'))) {
    throw new Error(
      'PostgreSQL binaries not found; install them with `apt-get install -y postgresql` (.ci/run does)',
    );
  }
  return dir;
}

/** PostgreSQL refuses to run as root; run its programs as the `postgres` user then. */
function run(bin: string, args: string[]): void {
  const asRoot = process.getuid?.() === 0;
  const [command, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  execFileSync(command, argv, { stdio: 'pipe' });
}

/**
 * Tests run with `fsync=off`: what they check does not depend on the disk.
 * `durable` keeps PostgreSQL's default, for benchmarks of what a commit costs.
 */
export async function startPostgres(options: { durable?: boolean } = {}): Promise<TestPostgres> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'tao-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const port = await freePort();
  run(join(bin, 'initdb'), ['-D', data, '-U', 'tao', '--auth=trust', '-E', 'UTF8']);
  const pgCtl = (...args: string[]) => run(join(bin, 'pg_ctl'), ['-D', data, '-w', ...args]);
  const start = () =>
    pgCtl(
      '-l',
      join(dir, 'server.log'),
      '-o',
      `-h 127.0.0.1 -p ${port} -k ${dir}${options.durable ? '' : ' -c fsync=off'}`,
      'start',
    );
  start();
  return {
    url: `postgres://tao:not-a-real-secret@127.0.0.1:${port}/postgres`,
    port,
    stop: () => pgCtl('-m', 'fast', 'stop'),
    start,
    destroy() {
      try {
        pgCtl('-m', 'immediate', 'stop');
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
