/**
 * A Temporal dev server persisted to a SQLite file, with its Web UI, plus a
 * TAO worker in this process: `tao dev` runs it until Ctrl-C, `tao run
 * --embedded` for one run.
 */
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Client } from '@temporalio/client';
import type { LogLevel, WorkerDeploymentVersion } from '@temporalio/common';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { setCurrentVersion } from '../client/deployments';
import { InputError } from '../config/data-file';
import { type WorkerConfig, deploymentVersion } from '../config/worker-config';
import { createExecutor } from '../executors/registry';
import { freePort, isListening, startDevServer } from '../local/dev-server';
import { ensurePrivateDirs } from '../local/private-files';
import { isAlive } from '../local/processes';
import { ensureTemporalBinaries } from '../local/temporal-binaries';
import { createStore } from '../stores/registry';
import type { SessionStore } from '../stores/session-store';
import { type OutcomeStore, createOutcomeStore } from '../outcomes';
import { taoPayloadCodecs } from '../codec';
import { startCodecServer } from '../codec-server';
import { payloadSettings } from '../config/worker-config';
import { workerFromConfig } from '../worker';
import { workflowBundleDigest } from '../workflow-bundles';
import { packageVersion } from './package-version';
import { installWorkerRuntime } from './worker-logging';

export { DEFAULT_DB_FILE, DEFAULT_UI_PORT } from './local-defaults';
/** The Worker Deployment of the local stack's worker, unless `--deployment-name` names another. */
export const LOCAL_DEPLOYMENT = 'tao-dev';

/**
 * The local worker's version: the flags' if given, else this TAO's version
 * and a digest of its workflow code, so a restart on changed code is a new
 * build and runs started before it stay on the build they started on. A
 * build made without the workflow bundles has only its version to go by.
 */
function localVersion(config: WorkerConfig): WorkerDeploymentVersion {
  const digest = workflowBundleDigest();
  return (
    deploymentVersion(config) ?? {
      deploymentName: LOCAL_DEPLOYMENT,
      buildId: digest ? `${packageVersion()}-${digest}` : packageVersion(),
    }
  );
}

export interface LocalStackOptions {
  config: WorkerConfig;
  /** Created on the dev server and served by the worker. */
  namespace: string;
  /** Worker log level unless TAO_LOG_LEVEL says otherwise. */
  logLevel: LogLevel;
  dbFile: string;
  /** Frontend port; default: any free one. */
  port?: number;
  uiPort: number;
  /** Take any free UI port when `uiPort` is busy rather than failing. */
  uiPortFallback?: boolean;
}

export interface LocalStack {
  address: string;
  uiUrl?: string;
  /** The codec server the Web UI uses; `temporal … --codec-endpoint <it>` decodes in the CLI too. */
  codecUrl: string;
  /** The worker's version, current in its deployment: new runs go to it. */
  version: WorkerDeploymentVersion;
  worker: Worker;
  /** The worker's checkpoint store, where its steps' transcripts are: the page reads them from it. */
  store: SessionStore;
  /** The worker's outcome store, where batch runs' outcomes are: the page pages through them. */
  outcomes: OutcomeStore;
  /** Call once the worker has stopped. */
  stop(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  // Bad executor, store or version flags fail here, before a server is started for nothing.
  const version = localVersion(options.config);
  const config = { ...options.config, ...version };
  const [executor, store] = await Promise.all([createExecutor(config.executor), createStore(config.store)]);
  const outcomes = createOutcomeStore(config.store);
  installWorkerRuntime(options.logLevel);
  const { cli } = ensureTemporalBinaries();
  const unlock = await lockDbFile(options.dbFile);
  const cleanups: (() => Promise<void>)[] = [
    unlock,
    async () => store.close?.(),
    async () => outcomes.close?.(),
    async () => executor.close?.(),
  ];
  // Newest first, and every one even if an earlier one fails: a server left behind would hold the db lock.
  const stop = async () => {
    const failures: unknown[] = [];
    for (const cleanup of [...cleanups].reverse())
      await cleanup().catch((error: unknown) => failures.push(error));
    if (failures.length > 0) throw failures[0];
  };
  try {
    const uiPort =
      options.uiPortFallback && (await isListening(options.uiPort)) ? await freePort() : options.uiPort;
    // The Web UI decodes offloaded and encrypted payloads through a codec server only it may call.
    const codec = await startCodecServer({
      codecs: taoPayloadCodecs(payloadSettings(config)),
      port: await freePort(),
      corsOrigins: [`http://localhost:${uiPort}`, `http://127.0.0.1:${uiPort}`],
    });
    cleanups.push(() => codec.close());
    const server = await startDevServer({
      cli,
      dbFile: options.dbFile,
      uiPort,
      uiCodecEndpoint: codec.url,
      namespace: options.namespace,
      ...(options.port !== undefined ? { port: options.port } : {}),
    });
    cleanups.push(() => server.stop());
    const connection = await NativeConnection.connect({ address: server.address });
    cleanups.push(() => connection.close());
    const worker = await workerFromConfig(connection, options.namespace, config, executor, store, outcomes);
    // Current before the worker polls (hence no pollers), so that no run started from here on is left
    // unversioned; and though the build before it polled task queues this one has not polled yet.
    await setCurrentVersion(new Client({ connection, namespace: options.namespace }), version, {
      allowNoPollers: true,
      ignoreMissingTaskQueues: true,
    });
    return {
      address: server.address,
      ...(server.uiUrl ? { uiUrl: server.uiUrl } : {}),
      codecUrl: codec.url,
      version,
      worker,
      store,
      outcomes,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Two dev servers on one SQLite file would both believe they own its history
 * and corrupt it, so the file is claimed with a pid lock next to it. A lock
 * left by a process that no longer runs is taken over.
 */
async function lockDbFile(dbFile: string): Promise<() => Promise<void>> {
  const lockFile = `${dbFile}.lock`;
  // The history database holds every payload: owner-only, like the stores.
  await ensurePrivateDirs(dirname(dbFile));
  // Written aside and hard-linked into place, so the lock never exists without its pid.
  const claim = `${lockFile}.${process.pid}`;
  await writeFile(claim, String(process.pid));
  try {
    for (;;) {
      try {
        await link(claim, lockFile);
        return () => rm(lockFile, { force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = Number(await readFile(lockFile, 'utf8').catch(() => ''));
      if (owner && isAlive(owner)) {
        throw new InputError(
          `${dbFile} is in use by a running \`tao dev\` or \`tao run --embedded\` (pid ${owner}); run against it without --embedded, or pass --db <other file>`,
        );
      }
      await rm(lockFile, { force: true });
    }
  } finally {
    await rm(claim, { force: true });
  }
}
