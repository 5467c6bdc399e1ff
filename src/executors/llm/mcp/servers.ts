/**
 * The worker's MCP servers, through the official SDK client. A server is
 * connected once, on the first step that needs it, and shared by every step
 * after; one that exits or drops its connection is forgotten, and the next
 * step that needs it starts it again. `close` stops them all.
 *
 * Failures are sorted the way the step's retry policy needs them:
 * - a tool's own error, a timed-out call, or arguments the server refuses go
 *   back to the model as a tool error;
 * - a server that is down, unreachable or crashed mid-call is a
 *   {@link RetryableStepError}: the retry finds it restarted;
 * - a server that cannot work with its config (a command that does not exist,
 *   a server that exits before its handshake, a refused header, a tool
 *   allow-list naming a tool it lacks) is a {@link NonRetryableStepError}
 *   naming the server and where its config is.
 * Every message is scrubbed of the server's secrets before it leaves here.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { type CallToolResult, ErrorCode, McpError, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { NonRetryableStepError, RetryableStepError } from '../../executor';
import type { ExternalTool } from '../tools';
import { ToolError } from '../tools';
import { type McpServerSettings, redactSecrets } from './config';
import { SupervisedStdioTransport } from './stdio-transport';

/** Time a server gets to start and answer the handshake and the tool listing. */
const CONNECT_TIMEOUT_MS = 30_000;
/** What providers accept as a tool name. */
const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

interface Connection {
  client: Client;
  tools: Tool[];
  /** Set once the connection is gone (it has then left the pool). */
  closed: boolean;
  /** Why it closed, for the retryable error of a call it cut short. */
  exitNote(): string;
}

export class McpServers {
  private readonly connections = new Map<string, Promise<Connection>>();

  constructor(private readonly settings: Readonly<Record<string, McpServerSettings>>) {}

  /** The tools of `servers` as the model sees them, each named `<server>__<tool>`. */
  async toolsFor(servers: readonly string[], signal: AbortSignal): Promise<ExternalTool[]> {
    const tools: ExternalTool[] = [];
    for (const name of servers) {
      const server = this.settings[name]!;
      const connection = await this.connection(server, signal);
      for (const tool of offered(server, connection.tools)) tools.push(this.external(server, tool));
    }
    return tools;
  }

  /** Stops every server this worker started and closes every connection. */
  async close(): Promise<void> {
    const open = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(
      open.map((pending) =>
        pending.then(
          (connection) => connection.client.close(),
          () => undefined,
        ),
      ),
    );
  }

  private external(server: McpServerSettings, tool: Tool): ExternalTool {
    return {
      spec: {
        name: `${server.name}__${tool.name}`,
        description: tool.description ?? tool.title ?? '',
        parameters: tool.inputSchema as Record<string, unknown>,
      },
      invoke: async (input, signal) => {
        if (typeof input !== 'object' || input === null || Array.isArray(input)) {
          throw new ToolError('invalid arguments: expected a JSON object');
        }
        const connection = await this.connection(server, signal);
        let result: CallToolResult;
        try {
          result = (await connection.client.callTool(
            { name: tool.name, arguments: input as Record<string, unknown> },
            undefined,
            { signal, timeout: server.timeoutMs },
          )) as CallToolResult;
        } catch (error) {
          if (signal.aborted) throw signal.reason;
          throw callFailure(server, tool.name, error, connection);
        }
        const text = redactSecrets(renderResult(result, server.maxOutputBytes), server.secrets);
        if (result.isError) throw new ToolError(text);
        return text;
      },
    };
  }

  /**
   * The server's live connection, started if there is none. Starting is not
   * tied to the step that asked first: steps waiting on the same start each
   * stop waiting when they are cancelled, and the start goes on for the rest.
   */
  private connection(server: McpServerSettings, signal: AbortSignal): Promise<Connection> {
    let pending = this.connections.get(server.name);
    if (!pending) {
      const started = connect(server, () => {
        if (this.connections.get(server.name) === started) this.connections.delete(server.name);
      });
      started.catch(() => {
        if (this.connections.get(server.name) === started) this.connections.delete(server.name);
      });
      this.connections.set(server.name, started);
      pending = started;
    }
    return untilAborted(pending, signal);
  }
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

async function connect(server: McpServerSettings, onClosed: () => void): Promise<Connection> {
  const client = new Client({ name: 'tao', version: '1' });
  let stdio: SupervisedStdioTransport | undefined;
  let transport: Transport;
  if (server.transport === 'stdio') transport = stdio = new SupervisedStdioTransport(server);
  else
    transport = new StreamableHTTPClientTransport(server.url, { requestInit: { headers: server.headers } });
  const connection: Connection = {
    client,
    tools: [],
    closed: false,
    exitNote: () => (stdio?.exit ? describeExit(stdio.exit) : 'connection lost'),
  };
  client.onclose = () => {
    connection.closed = true;
    onClosed();
  };
  // Out-of-band transport errors (a stray line on stdout, a dropped SSE stream) surface on the next call.
  client.onerror = () => {};
  const options = { timeout: CONNECT_TIMEOUT_MS };
  try {
    await client.connect(transport, options);
    for (let cursor: string | undefined, first = true; first || cursor; first = false) {
      const page = await client.listTools(cursor ? { cursor } : {}, options);
      connection.tools.push(...page.tools);
      cursor = page.nextCursor;
    }
  } catch (error) {
    // Judged before closing: closing kills a stdio server, which would read as its own exit.
    const failure = connectFailure(server, error, stdio);
    await client.close().catch(() => {});
    throw failure;
  }
  checkAllowList(server, connection.tools);
  return connection;
}

function offered(server: McpServerSettings, tools: readonly Tool[]): Tool[] {
  return server.tools ? tools.filter((tool) => server.tools!.includes(tool.name)) : [...tools];
}

/** A tool the model cannot be offered, or an allow-list naming a tool the server lacks, is a config mistake. */
function checkAllowList(server: McpServerSettings, tools: readonly Tool[]): void {
  const listed = tools.map((tool) => tool.name);
  const missing = (server.tools ?? []).filter((name) => !listed.includes(name));
  if (missing.length > 0) {
    throw new NonRetryableStepError(
      `MCP server "${server.name}" has no tool ${missing.map((n) => `"${n}"`).join(', ')} (it lists: ${listed.join(', ') || 'none'}); fix tools: in ${server.where}`,
    );
  }
  for (const tool of offered(server, tools)) {
    if (!TOOL_NAME.test(`${server.name}__${tool.name}`)) {
      throw new NonRetryableStepError(
        `MCP server "${server.name}" has a tool named "${tool.name}", which models cannot be offered as "${server.name}__${tool.name}" (letters, digits, _ and -, at most 64); leave it out with tools: in ${server.where}, or shorten the server's name`,
      );
    }
  }
}

function connectFailure(
  server: McpServerSettings,
  error: unknown,
  stdio: SupervisedStdioTransport | undefined,
): Error {
  const scrub = (text: string) => redactSecrets(text, server.secrets);
  const label = `MCP server "${server.name}"`;
  if (stdio) {
    const exit = stdio.exit;
    if (exit?.spawnError) {
      const program = server.transport === 'stdio' ? server.argv[0] : '';
      const why = exit.spawnError.code === 'ENOENT' ? 'no such program' : exit.spawnError.message;
      return new NonRetryableStepError(
        scrub(`${label}: cannot start "${program}" (${why}); fix command in ${server.where}`),
      );
    }
    if (exit) {
      const said = lastWords(stdio.stderrTail);
      return new NonRetryableStepError(
        scrub(
          `${label} exited before it was ready (${describeExit(exit)})${said ? `: ${said}` : ''}; fix command, args or env in ${server.where}`,
        ),
      );
    }
    return new RetryableStepError(scrub(`${label} did not start: ${messageOf(error)}`));
  }
  const status = error instanceof StreamableHTTPError ? error.code : undefined;
  const origin = server.transport === 'http' ? server.url.origin + server.url.pathname : '';
  if (status === 401 || status === 403 || (error instanceof Error && error.name === 'UnauthorizedError')) {
    return new NonRetryableStepError(
      `${label} at ${origin} refused the credentials (HTTP ${status ?? 401}); check headers in ${server.where} and the variables they name`,
    );
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return new NonRetryableStepError(
      `${label}: no MCP endpoint at ${origin} (HTTP ${status}); fix url in ${server.where}`,
    );
  }
  return new RetryableStepError(scrub(`${label} at ${origin} is unreachable: ${messageOf(error)}`));
}

function callFailure(server: McpServerSettings, tool: string, error: unknown, connection: Connection): Error {
  const scrub = (text: string) => redactSecrets(text, server.secrets);
  if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) {
    return new ToolError(`${tool} timed out after ${server.timeoutMs} ms and was cancelled`);
  }
  if (connection.closed || (error instanceof McpError && error.code === ErrorCode.ConnectionClosed)) {
    return new RetryableStepError(
      scrub(
        `MCP server "${server.name}" went away during ${tool} (${connection.exitNote()}); the retry restarts it`,
      ),
    );
  }
  if (error instanceof McpError) return new ToolError(scrub(error.message));
  return new RetryableStepError(
    scrub(`MCP server "${server.name}" failed during ${tool}: ${messageOf(error)}`),
  );
}

/** A tool's answer as text for the model: text as is, binary parts named but not inlined, then capped. */
function renderResult(result: CallToolResult, maxBytes: number): string {
  const parts = (result.content ?? []).map((item) => {
    switch (item.type) {
      case 'text':
        return item.text;
      case 'image':
      case 'audio':
        return `[${item.mimeType}, ${Math.floor((item.data.length * 3) / 4)} bytes, not shown]`;
      case 'resource':
        return 'text' in item.resource ? item.resource.text : `[resource ${item.resource.uri}, not shown]`;
      case 'resource_link':
        return `[resource ${item.uri}]`;
      default:
        return '';
    }
  });
  let text = parts.join('\n');
  if (!text && result.structuredContent) text = JSON.stringify(result.structuredContent);
  const bytes = Buffer.from(text);
  if (bytes.length <= maxBytes) return text;
  return `${bytes.subarray(0, maxBytes).toString('utf8')}\n[output truncated: ${bytes.length - maxBytes} more bytes not shown]`;
}

function describeExit(exit: { code: number | null; signal: NodeJS.Signals | null }): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

/** What a server's stderr says last about why it stopped: its last line naming an error, else its last line with words. */
function lastWords(text: string): string {
  const lines = text.split('\n').map((line) => line.trim());
  const worded = lines.filter((line) => /[A-Za-z]{2}/.test(line) && !line.startsWith('at '));
  const line = worded.filter((l) => /error/i.test(l)).at(-1) ?? worded.at(-1) ?? '';
  return line.slice(0, 300);
}

function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ? `${error.message} (${cause.code})` : error.message;
}
