/**
 * A real, throwaway PostgreSQL for tests: a fresh cluster in a temp directory,
 * listening on a free loopback port, stopped and removed afterwards.
 * `.ci/run` installs Debian's postgresql package when the binaries are absent.
 *
 * The cluster asks for a password (scram-sha-256, over TCP and the socket alike),
 * as a production server does: under `trust` a store that lost the password from
 * its URL on the way to the driver would still connect, and no test would notice.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/local/dev-server';

/** The test cluster's password: the leak tests look for it in messages, progress and history. */
export const TEST_POSTGRES_PASSWORD = 'not-a-real-secret';

export interface TestPostgres {
  /** `postgres://tao:<password>@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  /** Stops the server, keeping its data, as an outage would. */
  stop(): void;
  start(): void;
  /**
   * SIGSTOPs the postmaster and every backend: the server keeps its sockets
   * open and never answers, as a hung host or a network black hole would,
   * unlike `stop`, whose refused connections fail at once. `thaw` resumes it;
   * `destroy` thaws before it stops, so a failed test cannot leave it frozen.
   */
  freeze(): void;
  thaw(): void;
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

function postgresUid(): number {
  return Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
}

/** Processes whose parent is `pid`, from /proc (the server's backends, checkpointer, WAL writer…). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return children;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    // Gone already is fine; anything else (no permission) would leave a test believing the server frozen.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
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
  // initdb reads the superuser's password from a file, owner-only, removed once the cluster exists.
  const pwfile = join(dir, 'pwfile');
  writeFileSync(pwfile, `${TEST_POSTGRES_PASSWORD}\n`, { mode: 0o600 });
  if (process.getuid?.() === 0) chownSync(pwfile, postgresUid(), -1);
  run(join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'tao',
    '--auth=scram-sha-256',
    `--pwfile=${pwfile}`,
    '-E',
    'UTF8',
  ]);
  rmSync(pwfile);
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
  let frozen: number[] = [];
  const thaw = () => {
    for (const pid of frozen) signal(pid, 'SIGCONT');
    frozen = [];
  };
  return {
    url: `postgres://tao:${TEST_POSTGRES_PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    stop: () => pgCtl('-m', 'fast', 'stop'),
    start,
    freeze() {
      const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      // The postmaster first, so it forks no backend that would escape the list.
      signal(postmaster, 'SIGSTOP');
      frozen.push(postmaster);
      for (const pid of childrenOf(postmaster)) {
        signal(pid, 'SIGSTOP');
        frozen.push(pid);
      }
    },
    thaw,
    destroy() {
      // A stopped postmaster would hold pg_ctl's shutdown signal until someone continued it.
      thaw();
      try {
        pgCtl('-m', 'immediate', 'stop');
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
