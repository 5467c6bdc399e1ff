/**
 * A real MCP server, built with the official SDK, for the MCP tool tests.
 * Run as its own process (see mcp-harness.ts): over stdio by default, or over
 * streamable HTTP with `--http`, where it prints `listening <port>` and asks
 * for `authorization: Bearer $MCP_EXPECTED_TOKEN` when that is set.
 *
 * Its tools leave traces a test can count from outside the process:
 * - `count` appends its label to $MCP_COUNT_FILE and answers the running total;
 * - `slow` writes `started <id>` to $MCP_COUNT_FILE.events as its call begins, and
 *   `cancelled <id>` there when the call is cancelled;
 * - `fail` is a tool's own error, `crash` kills the server mid-call,
 *   `big` answers more than any cap, `env_names` lists the variables it got,
 *   `echo_secret` answers the value of $MCP_SECRET.
 * `--refuse-start` makes it exit before its handshake, as a server does when its config is wrong.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod/v4';

const countFile = process.env.MCP_COUNT_FILE!;
const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });

function buildServer(): McpServer {
  const server = new McpServer({ name: 'tao-test-server', version: '1.0.0' });
  server.registerTool(
    'count',
    {
      description: 'Counts one more call and answers the total so far.',
      inputSchema: { label: z.string().describe('what this call counts') },
    },
    ({ label }) => {
      appendFileSync(countFile, `${label}\n`);
      const total = readFileSync(countFile, 'utf8').trim().split('\n').length;
      return text(`count=${total} label=${label} pid=${process.pid}`);
    },
  );
  server.registerTool(
    'slow',
    { description: 'Answers after ms milliseconds.', inputSchema: { ms: z.number().int() } },
    ({ ms }, extra) =>
      new Promise((resolve) => {
        appendFileSync(`${countFile}.events`, `started ${String(extra.requestId)}\n`);
        const timer = setTimeout(() => resolve(text('slept')), ms);
        extra.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          appendFileSync(`${countFile}.events`, `cancelled ${String(extra.requestId)}\n`);
        });
      }),
  );
  server.registerTool('fail', { description: 'Always fails.' }, () => ({
    ...text('quota exceeded for this tracker'),
    isError: true,
  }));
  server.registerTool('crash', { description: 'Kills the server.' }, () => process.exit(3));
  server.registerTool(
    'big',
    { description: 'Answers bytes bytes.', inputSchema: { bytes: z.number().int() } },
    ({ bytes }) => text('x'.repeat(bytes)),
  );
  server.registerTool('env_names', { description: 'Lists the variables the server got.' }, () =>
    text(Object.keys(process.env).sort().join(',')),
  );
  server.registerTool('echo_secret', { description: 'Answers $MCP_SECRET.' }, () =>
    text(`the secret is ${process.env.MCP_SECRET}`),
  );
  return server;
}

async function serveHttp(): Promise<void> {
  const expected = process.env.MCP_EXPECTED_TOKEN;
  const http = createServer((req, res) => {
    if (expected && req.headers.authorization !== `Bearer ${expected}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
      return;
    }
    // Stateless: a fresh server and transport per request, as the SDK's stateless example does.
    const server = buildServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => void transport.close().then(() => server.close()));
    server
      .connect(transport)
      .then(() => transport.handleRequest(req, res))
      .catch((error: unknown) => {
        console.error(error);
        if (!res.headersSent) res.writeHead(500).end();
      });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`listening ${(http.address() as AddressInfo).port}\n`);
}

async function main(): Promise<void> {
  if (process.argv.includes('--refuse-start')) {
    console.error('config error: MCP_TOKEN is not set');
    process.exit(2);
  }
  if (!existsSync(countFile)) appendFileSync(countFile, '');
  if (process.argv.includes('--http')) return serveHttp();
  await buildServer().connect(new StdioServerTransport());
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
