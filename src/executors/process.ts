/**
 * Runs one external program for a step: no shell, bounded output, and the
 * whole process tree ends with the step, and with the worker if the worker
 * dies first (see ../supervisor). Shared by the command executor and the LLM
 * executor's `run_shell` tool.
 */
import { KILL_GRACE_MS, spawnError, spawnSupervised } from '../supervisor';

export interface ProcessRequest {
  /** Program and arguments, passed to the OS as-is: nothing is interpreted by a shell. */
  argv: readonly [string, ...string[]];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Written to the program's stdin, which is then closed; without it stdin is empty. */
  stdin?: string;
  timeoutMs: number;
  /** Bytes of stdout kept; the rest is read and dropped so the program never blocks on a full pipe. */
  maxOutputBytes: number;
  /** Aborting kills the process tree and rejects with the signal's reason. */
  signal: AbortSignal;
  /** Called as stdout arrives, with its last {@link OUTPUT_TAIL_BYTES} bytes so far (a live view). */
  onOutput?: (stdoutTail: string) => void;
  /** Called as any output arrives, stdout or stderr: the program is alive. */
  onProgress?: () => void;
}

export interface ProcessResult {
  exitCode: number | null;
  /** The signal that ended the program, when one did. */
  exitSignal: NodeJS.Signals | null;
  stdout: string;
  /** Stdout bytes dropped beyond `maxOutputBytes`. */
  droppedBytes: number;
  /** The last few KiB of stderr: where programs say why they failed. */
  stderrTail: string;
  timedOut: boolean;
}

const STDERR_TAIL_BYTES = 8 * 1024;
export const OUTPUT_TAIL_BYTES = 4 * 1024;
/** Time stdio may stay open after the program exited (a detached grandchild holding the pipe). */
const STDIO_GRACE_MS = 1_000;

/** Minimal variables a program needs to run; anything else must be allowed by name. */
const BASE_ENV_NAMES = ['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'TMPDIR', 'TERM'] as const;

/** The worker's values of the base variables plus `allowed` ones; secrets stay out unless named. */
export function allowListedEnv(allowed: readonly string[], source: NodeJS.ProcessEnv = process.env) {
  const env: NodeJS.ProcessEnv = {};
  for (const name of [...BASE_ENV_NAMES, ...allowed]) {
    if (source[name] !== undefined) env[name] = source[name];
  }
  return env;
}

export function runProcess(request: ProcessRequest): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    if (request.signal.aborted) {
      reject(request.signal.reason);
      return;
    }
    const { child, workerPipe, spawnReport, killTree } = spawnSupervised(request);
    const stdout: Buffer[] = [];
    let kept = 0;
    let droppedBytes = 0;
    let stderrTail = Buffer.alloc(0);
    let timedOut = false;
    let exited = false;
    let escalation: NodeJS.Timeout | undefined;

    const terminate = () => {
      killTree('SIGTERM');
      escalation ??= setTimeout(() => killTree('SIGKILL'), KILL_GRACE_MS);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      terminate();
    }, request.timeoutMs);
    const onAbort = () => terminate();
    request.signal.addEventListener('abort', onAbort, { once: true });

    let outputTail = Buffer.alloc(0);
    child.stdout.on('data', (chunk: Buffer) => {
      request.onProgress?.();
      if (request.onOutput) {
        outputTail = Buffer.concat([outputTail, chunk]).subarray(-OUTPUT_TAIL_BYTES);
        request.onOutput(outputTail.toString('utf8'));
      }
      const room = request.maxOutputBytes - kept;
      if (room > 0) {
        const part = chunk.subarray(0, room);
        stdout.push(part);
        kept += part.length;
      }
      droppedBytes += Math.max(0, chunk.length - Math.max(0, room));
    });
    child.stderr.on('data', (chunk: Buffer) => {
      request.onProgress?.();
      stderrTail = Buffer.concat([stderrTail, chunk]);
      if (stderrTail.length > STDERR_TAIL_BYTES) stderrTail = stderrTail.subarray(-STDERR_TAIL_BYTES);
    });
    // A program that exits without reading its input closes the pipe under us; that is not an error.
    child.stdin.on('error', () => {});
    child.stdin.end(request.stdin ?? '');

    child.on('exit', () => {
      exited = true;
      // Whatever the program left running in its group dies with the step.
      killTree('SIGKILL');
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, STDIO_GRACE_MS).unref();
    });
    child.on('error', (error) => {
      if (!exited) finish(() => reject(error));
    });
    child.on('close', (exitCode, exitSignal) =>
      finish(() => {
        if (request.signal.aborted) reject(request.signal.reason);
        else if (spawnReport()) reject(spawnError(spawnReport(), request.argv[0]));
        else
          resolve({
            exitCode,
            exitSignal,
            stdout: Buffer.concat(stdout).toString('utf8'),
            droppedBytes,
            stderrTail: stderrTail.toString('utf8'),
            timedOut,
          });
      }),
    );

    let settled = false;
    function finish(settle: () => void) {
      if (settled) return;
      settled = true;
      workerPipe.destroy();
      clearTimeout(timer);
      clearTimeout(escalation);
      request.signal.removeEventListener('abort', onAbort);
      settle();
    }
  });
}
