/**
 * TAO workers as real child processes (see worker-process-main.ts), for tests
 * that crash a worker the way production crashes: SIGKILL, no goodbye to the
 * server. Every process started here is tracked so `stopWorkerProcesses` (in
 * afterAll) leaves no orphan, even when a test fails half-way.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { StepOutcome, StepPolicy } from '../../src/contracts';
import type { ProfileOverride } from '../../src/executors/llm/profiles';
import type { ScriptFile } from '../../src/executors/script';
import type { DecisionKind } from '../../src/workflows/lib/progress';
import type { FakeReply, FakeRequest, FakeServer } from './fake-http';
import { untilWaitingOn } from './gate-executor';
import type { ProtocolHarness } from './llm-harness';
import { devClient, devServerAddress } from './temporal';
import { TICKING_SPEC, tickingConfig } from './ticking-agent';

export interface WorkerProcessConfig {
  address: string;
  taskQueue: string;
  /** The workflow bundle jest's global setup built once. */
  bundlePath: string;
  /** FileSessionStore directory: checkpoints survive the process. */
  storeDir: string;
  /** A store reference (e.g. `postgres://…`) to use instead of the directory. */
  storeRef?: string;
  /** Side-effect log every step appends to (see side-effect-log.ts). */
  logFile: string;
  script: ScriptFile;
  /** An executor reference (`llm:<file>`, `command:<file>`) to run instead of the script. */
  executorRef?: string;
  /** A blob store directory: the worker's data converter then has the claim-check codec over it. */
  blobsDir?: string;
}

export interface WorkerProcess {
  readonly pid: number;
  /** Crash it: SIGKILL, then wait until the OS has reaped it. */
  kill(): Promise<void>;
  /** Stop it cleanly (SIGTERM drains the worker); SIGKILL if it hangs. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
const READY_TIMEOUT_MS = 30_000;

/** `env` adds variables to the worker's environment (jest's own `process.env` does not reach children). */
export async function startWorkerProcess(
  config: Omit<WorkerProcessConfig, 'address' | 'bundlePath'>,
  env: NodeJS.ProcessEnv = {},
): Promise<WorkerProcess> {
  const full: WorkerProcessConfig = {
    ...config,
    address: devServerAddress(),
    bundlePath: process.env.TAO_TEST_BUNDLE!,
  };
  const child = spawn(
    process.execPath,
    [
      '--enable-source-maps',
      '--require',
      join(__dirname, 'swc-register.js'),
      join(__dirname, 'worker-process-main.ts'),
      JSON.stringify(full),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  live.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child);
      resolve();
    }),
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));

  await new Promise<void>((resolve, reject) => {
    const settle = (error?: Error) => {
      clearTimeout(timer);
      child.off('exit', onExit);
      if (!error) return resolve();
      child.kill('SIGKILL');
      reject(error);
    };
    const fail = (why: string) => settle(new Error(`worker process ${why}: ${stderr.trim()}`));
    const onExit = (code: number | null, signal: string | null) =>
      fail(`exited (${code ?? signal}) before it was ready`);
    const timer = setTimeout(() => fail(`not ready within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
    child.once('exit', onExit);
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('ready\n')) settle();
    });
  });

  return {
    pid: child.pid!,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** For afterAll: kills whatever a test left running. */
export async function stopWorkerProcesses(): Promise<void> {
  await Promise.all(
    [...live].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/** Retries a step soon after its worker dies: the heartbeat times out in 3 s, the retry follows 200 ms later. */
export const CRASH_STEP_POLICY = { heartbeatTimeoutMs: 3_000, initialRetryIntervalMs: 200 };

export interface LlmStepRun {
  first: WorkerProcess;
  handle: WorkflowHandle;
  /** Another worker process like the first, to take the step over once the first is killed. */
  startReplacement(): Promise<WorkerProcess>;
}

/**
 * One llm step in a `parallelWorkflow` on a fresh task queue, run by a worker
 * process with `llm:<configFile>` and a store in `dir` (or `storeRef`); `env`
 * reaches that worker and its replacements. The step policy is
 * {@link CRASH_STEP_POLICY} unless `stepPolicy` is given.
 */
export async function startLlmStepOnProcess(options: {
  client: Client;
  dir: string;
  configFile: string;
  spec: { taskId: string; agent: string; prompt: string };
  env?: NodeJS.ProcessEnv;
  storeRef?: string;
  stepPolicy?: StepPolicy;
  blobsDir?: string;
}): Promise<LlmStepRun> {
  const config = {
    taskQueue: `llm-step-${randomUUID()}`,
    storeDir: join(options.dir, 'store'),
    ...(options.storeRef ? { storeRef: options.storeRef } : {}),
    ...(options.blobsDir ? { blobsDir: options.blobsDir } : {}),
    logFile: join(options.dir, 'side-effects.log'),
    script: {},
    executorRef: `llm:${options.configFile}`,
  };
  const first = await startWorkerProcess(config, options.env);
  const handle = await options.client.workflow.start('parallelWorkflow', {
    taskQueue: config.taskQueue,
    workflowId: config.taskQueue,
    args: [{ specs: [options.spec], stepPolicy: options.stepPolicy ?? CRASH_STEP_POLICY }],
  });
  return { first, handle, startReplacement: () => startWorkerProcess(config, options.env) };
}

/**
 * The ticking agent's step (./ticking-agent) as {@link startLlmStepOnProcess}
 * runs it, against `server`, its config and workspace in `dir`; `profile`
 * adds to its agent's (`askUser`, `toolApproval`).
 */
export async function startTickingStepOnProcess(
  protocol: ProtocolHarness,
  server: FakeServer,
  dir: string,
  profile?: ProfileOverride,
): Promise<LlmStepRun> {
  const configFile = join(dir, 'llm.json');
  writeFileSync(configFile, JSON.stringify(tickingConfig(protocol, protocol.baseUrl(server), dir, profile)));
  return startLlmStepOnProcess({ client: await devClient(), dir, configFile, spec: TICKING_SPEC });
}

/**
 * The ticking step, its agent with `profile` besides, on a worker process
 * against a fake `protocol` server answering each request with `respond`,
 * until it waits for a decision of `kind`; `crash` decides, kills that
 * process at its moment and returns the replacement it started. Resolves,
 * once the run ended and the replacement is stopped, with the step's outcome
 * and every request the model got, oldest first.
 */
export async function tickingAcrossCrash(
  protocol: ProtocolHarness,
  dir: string,
  options: { profile: ProfileOverride; kind: DecisionKind; respond: (request: FakeRequest) => FakeReply },
  crash: (run: LlmStepRun, requests: FakeRequest[]) => Promise<WorkerProcess>,
): Promise<{ outcome: StepOutcome; requests: FakeRequest[] }> {
  const requests: FakeRequest[] = [];
  const server = await protocol.start((request) => {
    requests.push(request);
    return options.respond(request);
  });
  try {
    const run = await startTickingStepOnProcess(protocol, server, dir, options.profile);
    await untilWaitingOn(run.handle, options.kind, TICKING_SPEC.taskId);
    const replacement = await crash(run, requests);
    const [outcome] = (await run.handle.result()) as StepOutcome[];
    await replacement.kill();
    return { outcome: outcome!, requests };
  } finally {
    await server.close();
  }
}
