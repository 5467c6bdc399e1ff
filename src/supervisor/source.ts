/**
 * Why step processes cannot outlive their worker. A program a step starts is
 * not started by the worker itself but by this supervisor, a small Node
 * process the worker spawns as the leader of a new process group; the program
 * and everything it starts join that group. The supervisor holds one end of a
 * pipe whose other end only the worker holds: when the worker dies, however
 * it dies (SIGKILL included), the kernel closes its end, the supervisor reads
 * end-of-file and kills the whole group, SIGTERM then SIGKILL. This needs no
 * native code, so it works the same on Linux and macOS.
 *
 * The supervisor passes stdin, stdout and stderr straight through (the
 * program inherits them) and ends the way the program ended, with its exit
 * code or by its signal, so to the worker it is indistinguishable from the
 * program. A program that cannot be started is reported on the pipe.
 *
 * It is run as `node -e SUPERVISOR_SOURCE <request json>`, so it needs no
 * file of its own, in the source tree and in the compiled package alike. The
 * program's environment is the supervisor's own, never in that JSON: a command
 * line is readable by every user of the machine, and the environment may hold
 * secrets (an MCP server's token, a `tao dev` user's API keys).
 */

/** What the worker asks the supervisor to run, on its command line. */
export interface SupervisedRequest {
  argv: readonly [string, ...string[]];
  cwd: string;
  /** Time the group gets after SIGTERM before SIGKILL. */
  killGraceMs: number;
}

/** The supervisor's report on the pipe when the program could not be started. */
export interface SpawnFailure {
  code?: string;
  message: string;
}

/** The pipe to the worker is the supervisor's fd 3. */
export const WORKER_PIPE_FD = 3;

export const SUPERVISOR_SOURCE = `
const { spawn } = require('node:child_process');
const net = require('node:net');
const request = JSON.parse(process.argv[1]);
const group = -process.pid;
const pipe = new net.Socket({ fd: ${WORKER_PIPE_FD}, readable: true, writable: true });
let stopping = false;
// SIGTERM to the group reaches the supervisor too: it stays to escalate and to report.
process.on('SIGTERM', () => {});
const killGroup = () => {
  if (stopping) return;
  stopping = true;
  try { process.kill(group, 'SIGTERM'); } catch {}
  setTimeout(() => { try { process.kill(group, 'SIGKILL'); } catch {} }, request.killGraceMs);
};
pipe.on('end', killGroup);
pipe.on('error', killGroup);
pipe.on('data', () => {});
const child = spawn(request.argv[0], request.argv.slice(1), { cwd: request.cwd, env: process.env, stdio: 'inherit' });
child.on('error', (error) => {
  pipe.end(JSON.stringify({ code: error.code, message: error.message }));
  pipe.once('finish', () => process.exit(127));
});
child.on('exit', (code, signal) => {
  pipe.destroy();
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else process.exit(code);
});
`;
