/**
 * Starts the Temporal CLI's dev server on loopback, for `tao dev`, the
 * README's embedded run and the integration tests, and stops it again. The
 * server runs under the step processes' supervisor (../supervisor),
 * so it cannot outlive the process that started it, even one killed with
 * SIGKILL: an orphan would keep the port and the history file.
 */
import { createServer, connect } from 'node:net';
import { Connection } from '@temporalio/client';
import { type SupervisedProcess, spawnError, spawnSupervised } from '../supervisor';
import { registerWaitingAttribute } from '../connection/waiting-attribute';
import { WAITING_STEPS_ATTRIBUTE } from '../workflows/lib/waiting-attribute';

export interface DevServerOptions {
  cli: string;
  port?: number;
  /** Serve the Web UI on this port; omit for a headless server. */
  uiPort?: number;
  /** A remote codec server the Web UI decodes payloads with (see src/codec-server). */
  uiCodecEndpoint?: string;
  /** Persist to this SQLite file; omit for an in-memory server. */
  dbFile?: string;
  namespace?: string;
  /** Serve the server's Prometheus metrics (its `action` counter among them) at `/metrics` on this port. */
  metricsPort?: number;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

/**
 * A Worker Deployment Version that stopped being current reports whether pinned
 * runs still use it (draining) or none do (drained) by asking visibility, by
 * default every 3 minutes and only 3 minutes after it stopped, to allow for a
 * production visibility store's lag. The dev server's SQLite visibility has
 * none, and `tao deployment describe` should show a version drained within
 * seconds of its last run closing.
 */
const DYNAMIC_CONFIG = {
  'matching.wv.VersionDrainageStatusRefreshInterval': '1s',
  'matching.wv.VersionDrainageStatusVisibilityGracePeriod': '2s',
};

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export function isListening(port: number, host = HOST): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * How long a start waits for the history file while another server holds it:
 * a `tao dev` that was just stopped or killed leaves its server a moment to
 * shut down, and a restart straight after it should not fail on that.
 */
const DB_LOCK_WAIT_MS = 15_000;

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const port = options.port ?? (await freePort());
  // Otherwise the readiness probe below would mistake whatever holds the port for our server.
  if (await isListening(port)) {
    throw new Error(
      `port ${port} on ${HOST} is already in use (is \`tao dev\` running?); stop it or choose another port`,
    );
  }
  const lockDeadline = Date.now() + DB_LOCK_WAIT_MS;
  for (;;) {
    const started = await startOnce(options, port);
    if (started.server) {
      if (options.dbFile) await registerOnOlderFile(started.server, options.namespace ?? 'default');
      return started.server;
    }
    if (!/database is locked|SQLITE_BUSY/.test(started.failure.message)) throw started.failure;
    if (Date.now() > lockDeadline) {
      throw new Error(
        `the history file ${options.dbFile} is held by another Temporal server (is \`tao dev\` running on it?); stop it or choose another --db`,
      );
    }
    await sleep(250);
  }
}

type Start = { server: DevServer; failure?: never } | { server?: never; failure: Error };

async function startOnce(options: DevServerOptions, port: number): Promise<Start> {
  const args = ['server', 'start-dev', '--ip', HOST, '--port', String(port), '--log-level', 'warn'];
  args.push('--namespace', options.namespace ?? 'default');
  for (const [key, value] of Object.entries(DYNAMIC_CONFIG))
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  // The inbox's index of waiting steps (see workflows/lib/waiting-attribute); a run's upsert of it fails without.
  args.push('--search-attribute', `${WAITING_STEPS_ATTRIBUTE}=KeywordList`);
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  if (options.metricsPort) args.push('--metrics-port', String(options.metricsPort));
  if (options.uiPort) args.push('--ui-port', String(options.uiPort), '--ui-ip', HOST);
  else args.push('--headless');
  if (options.uiPort && options.uiCodecEndpoint) args.push('--ui-codec-endpoint', options.uiCodecEndpoint);

  const server = spawnSupervised({ argv: [options.cli, ...args], cwd: process.cwd(), env: process.env });
  const { child } = server;
  child.stdin.end();
  // Nothing reads what the server prints there; drained so that it never blocks on a full pipe.
  child.stdout.resume();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const deadline = Date.now() + 60_000;
  // Listening is not serving: the frontend refuses calls ("not healthy yet") for a moment after it binds.
  while (!(await isListening(port)) || !(await answers(`${HOST}:${port}`))) {
    const code = await Promise.race([exited, sleep(100).then(() => 'running' as const)]);
    if (code !== 'running') {
      const report = server.spawnReport();
      const why = report ? spawnError(report, options.cli).message : stderr.trim();
      return {
        failure: new Error(`Temporal dev server exited (${code}) before serving on ${HOST}:${port}: ${why}`),
      };
    }
    if (Date.now() > deadline) {
      server.killTree('SIGKILL');
      throw new Error(`Temporal dev server did not serve on ${HOST}:${port} within 60 s: ${stderr.trim()}`);
    }
  }
  return {
    server: {
      address: `${HOST}:${port}`,
      ...(options.uiPort ? { uiUrl: `http://localhost:${options.uiPort}` } : {}),
      stop: () => stopProcess(server, exited),
    },
  };
}

/**
 * `--search-attribute` registers the attribute only in a new history file;
 * one written before TAO used the attribute gets it through the operator service.
 */
async function registerOnOlderFile(server: DevServer, namespace: string): Promise<void> {
  const connection = await Connection.connect({ address: server.address });
  try {
    await registerWaitingAttribute(connection, namespace);
  } catch (error) {
    await server.stop();
    throw error;
  } finally {
    await connection.close();
  }
}

/** Whether the server at `address` answers a call (connecting asks it for its system info). */
async function answers(address: string): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: 2_000 });
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

async function stopProcess(server: SupervisedProcess, exited: Promise<unknown>): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  // The supervisor waits out SIGTERM; the server, in its group, stops on it.
  server.killTree('SIGTERM');
  const timer = setTimeout(() => server.killTree('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
