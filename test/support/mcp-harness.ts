/**
 * The test MCP server (mcp-server.ts) as a stdio command for an LLM config,
 * or started over streamable HTTP on loopback, and what it leaves on disk.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SERVER = join(__dirname, 'mcp-server.ts');
const REGISTER = join(__dirname, 'swc-register.js');

/** `command` and `args` that start the server over stdio. */
export function mcpStdioCommand(...flags: string[]): { command: string; args: string[] } {
  return { command: process.execPath, args: ['--require', REGISTER, SERVER, ...flags] };
}

export interface HttpMcpServer {
  url: string;
  close(): Promise<void>;
}

/** The server over streamable HTTP, with `env` (e.g. MCP_EXPECTED_TOKEN) as its whole environment. */
export async function startHttpMcpServer(env: NodeJS.ProcessEnv): Promise<HttpMcpServer> {
  const { command, args } = mcpStdioCommand('--http');
  const child: ChildProcess = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`MCP server exited (${code}) before listening`)));
  });
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

/** The labels `count` was called with, in order. */
export const countedCalls = (countFile: string): string[] =>
  existsSync(countFile) ? readFileSync(countFile, 'utf8').split('\n').filter(Boolean) : [];

/** The events the server logged (`started <id>`, `cancelled <id>`), oldest first. */
export const serverEvents = (countFile: string): string[] => countedCalls(`${countFile}.events`);

/** Whether a process is still alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * An llm config file in `workspace` whose only provider is `baseUrl` and whose
 * agent `name` has the test server (over stdio, counting into the file the
 * worker's MCP_COUNT_FILE names) besides `agent`'s own settings; its path.
 */
export function writeCounterAgentConfig(
  workspace: string,
  provider: { type: 'openai' | 'anthropic'; baseUrl: string },
  name: string,
  agent: { systemPrompt: string; tools: string[]; maxSteps?: number },
): string {
  const file = join(workspace, 'llm.json');
  const config = {
    provider: 'fake',
    model: 'fake-model',
    workspace,
    providers: { fake: provider },
    mcpServers: { counter: { ...mcpStdioCommand(), env: ['MCP_COUNT_FILE'] } },
    agents: { [name]: { ...agent, mcpServers: ['counter'] } },
  };
  writeFileSync(file, JSON.stringify(config));
  return file;
}
