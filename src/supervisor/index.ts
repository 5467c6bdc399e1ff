/**
 * Starting a program so that it, and everything it starts, dies with the
 * process that started it (see ./source for how). Step processes, MCP stdio
 * servers and the Temporal dev server all run this way.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { SUPERVISOR_SOURCE, type SpawnFailure, type SupervisedRequest, WORKER_PIPE_FD } from './source';

/** Time a tree gets to exit after SIGTERM before SIGKILL. */
export const KILL_GRACE_MS = 2_000;

/** A program started under the supervisor (see ./source), with the handles its owner needs. */
export interface SupervisedProcess {
  /** The supervisor, which to its owner is the program: same stdio, same exit. */
  child: ChildProcessWithoutNullStreams;
  /** The worker's end of the pipe; destroying it makes the supervisor kill the group. */
  workerPipe: Socket;
  /** The supervisor's report when the program could not be started, else empty. */
  spawnReport(): string;
  /** Signals the whole process group: the program and everything it started. */
  killTree(signal: NodeJS.Signals): void;
}

/**
 * Starts `argv` in a new process group led by the supervisor, so one kill of
 * the negative pid reaches every descendant, and fd 3 is the pipe whose
 * closing tells the supervisor the worker is gone. `env` reaches the program
 * as the supervisor's own environment.
 */
export function spawnSupervised(
  request: Pick<SupervisedRequest, 'argv' | 'cwd'> & { env: NodeJS.ProcessEnv },
): SupervisedProcess {
  const supervised: SupervisedRequest = { argv: request.argv, cwd: request.cwd, killGraceMs: KILL_GRACE_MS };
  const child = spawn(process.execPath, ['-e', SUPERVISOR_SOURCE, JSON.stringify(supervised)], {
    cwd: request.cwd,
    env: request.env,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
  }) as ChildProcessWithoutNullStreams;
  const workerPipe = child.stdio[WORKER_PIPE_FD] as unknown as Socket;
  let report = '';
  workerPipe.on('data', (chunk: Buffer) => (report += chunk.toString()));
  workerPipe.on('error', () => {});
  return {
    child,
    workerPipe,
    spawnReport: () => report,
    killTree(signal) {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // ESRCH: the group is already gone.
      }
    },
  };
}

/** The error spawning the program would have thrown in this process (`code` ENOENT, EACCES, ...). */
export function spawnError(report: string, program: string): NodeJS.ErrnoException {
  let failure: SpawnFailure;
  try {
    failure = JSON.parse(report) as SpawnFailure;
  } catch {
    failure = { message: `cannot start ${program}` };
  }
  return Object.assign(new Error(failure.message), failure.code ? { code: failure.code } : {});
}
