/**
 * The MCP stdio transport, with the server started under TAO's supervisor
 * (../../../supervisor) instead of as a plain child: an MCP server is a process a
 * step started, so it dies with the worker, SIGKILL of the worker included.
 * The SDK's own StdioClientTransport spawns directly and could not promise that.
 *
 * Messages are newline-delimited JSON-RPC on the server's stdin/stdout, framed
 * by the SDK's own ReadBuffer. The server's stderr is kept as a short tail:
 * it is where a server says why it refused to start.
 */
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { type SupervisedProcess, spawnError, spawnSupervised } from '../../../supervisor';

const STDERR_TAIL_BYTES = 4 * 1024;
const CLOSE_GRACE_MS = 2_000;

/** How the server process ended, once it has. */
export interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the program could not be started at all (`code` ENOENT, EACCES, ...). */
  spawnError?: NodeJS.ErrnoException;
}

export class SupervisedStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T) => void;

  private process?: SupervisedProcess;
  private readonly buffer = new ReadBuffer();
  private stderr = Buffer.alloc(0);
  private ended?: ServerExit;

  constructor(
    private readonly request: { argv: readonly [string, ...string[]]; cwd: string; env: NodeJS.ProcessEnv },
  ) {}

  /** The server's process id (the supervisor's, which leads its group). */
  get pid(): number | undefined {
    return this.process?.child.pid;
  }

  /** How it ended; undefined while it runs. */
  get exit(): ServerExit | undefined {
    return this.ended;
  }

  get stderrTail(): string {
    return this.stderr.toString('utf8');
  }

  async start(): Promise<void> {
    const supervised = spawnSupervised(this.request);
    this.process = supervised;
    const { child } = supervised;
    child.stdout.on('data', (chunk: Buffer) => {
      this.buffer.append(chunk);
      this.drain();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = Buffer.concat([this.stderr, chunk]).subarray(-STDERR_TAIL_BYTES);
    });
    child.stdin.on('error', (error) => this.onerror?.(error));
    child.on('error', (error) => this.onerror?.(error));
    child.on('close', (code, signal) => {
      const report = supervised.spawnReport();
      this.ended = {
        code,
        signal,
        ...(report ? { spawnError: spawnError(report, this.request.argv[0]) } : {}),
      };
      // Whatever the server left running in its group goes with it.
      supervised.killTree('SIGKILL');
      this.onclose?.();
    });
  }

  private drain(): void {
    for (;;) {
      let message: JSONRPCMessage | null;
      try {
        message = this.buffer.readMessage();
      } catch (error) {
        this.onerror?.(error as Error);
        continue;
      }
      if (!message) return;
      this.onmessage?.(message);
    }
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.process?.child.stdin;
    if (!stdin || this.ended) return Promise.reject(new Error('the MCP server is not running'));
    return new Promise((resolve) => {
      if (stdin.write(serializeMessage(message))) resolve();
      else stdin.once('drain', resolve);
    });
  }

  /** Stops the server's whole process group: SIGTERM, then SIGKILL if it lingers. */
  async close(): Promise<void> {
    const supervised = this.process;
    if (!supervised || this.ended) return;
    const closed = new Promise<void>((resolve) => supervised.child.once('close', () => resolve()));
    supervised.child.stdin.end();
    supervised.killTree('SIGTERM');
    const escalation = setTimeout(() => supervised.killTree('SIGKILL'), CLOSE_GRACE_MS);
    await closed;
    clearTimeout(escalation);
    this.buffer.clear();
  }
}
