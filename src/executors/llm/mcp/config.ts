/**
 * MCP servers in the LLM config: declared once under `mcpServers`, by name,
 * and listed by the agent profiles that may use them. Everything a server
 * needs is resolved when the worker starts: a header whose variable is unset
 * stops the worker with one line, not every step.
 *
 * Secrets stay out of the file: a stdio server gets only the variables it
 * names (besides the base set every program gets, see ../../process), and an
 * HTTP header's value is a template over named variables, `Bearer ${TOKEN}`.
 * The values are kept apart as {@link McpServerSettings.secrets} so that
 * every message that could carry one can be scrubbed.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { InputError } from '../../../config/data-file';
import { allowListedEnv } from '../../process';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

/** Limits shared by both transports. */
const callLimits = {
  /** Tools the agents may see; default: all the server lists. */
  tools: z.array(z.string().min(1)).min(1).optional(),
  /** Time one tool call may take before it is cancelled and the model told so. */
  timeoutMs: z.number().int().positive().optional(),
  /** Bytes of a tool's answer the model is shown. */
  maxOutputBytes: z.number().int().positive().optional(),
};

const StdioServerSchema = z
  .object({
    command: z.string().min(1),
    args: z.array(z.string()).optional(),
    /** Variables passed through by name; their values never appear in logs or errors. */
    env: z.array(envName).optional(),
    /** Working directory; default: the workspace root. */
    cwd: z.string().min(1).optional(),
    ...callLimits,
  })
  .strict();

const HttpServerSchema = z
  .object({
    /** A streamable HTTP endpoint. */
    url: z.string().url(),
    /** Header name → value template over environment variables, e.g. `Bearer ${GITHUB_TOKEN}`. */
    headers: z.record(z.string()).optional(),
    ...callLimits,
  })
  .strict();

export const McpServerConfigSchema = z.union([StdioServerSchema, HttpServerSchema], {
  errorMap: () => ({ message: 'an MCP server needs either command (stdio) or url (streamable HTTP)' }),
});
export type McpServerConfig = z.infer<typeof McpServerConfigSchema>;

/**
 * Server names prefix tool names (`github__create_issue`), so they keep to what every provider accepts,
 * and hold no "__" and end in no "_": the first "__" of a tool's name ends its server's.
 */
export const MCP_SERVER_NAME = /^[A-Za-z0-9-]+(_[A-Za-z0-9-]+)*$/;
export const McpServerNameSchema = z
  .string()
  .regex(MCP_SERVER_NAME, 'use letters, digits, "-" and single "_" (it prefixes tool names)');

export const DEFAULT_MCP_TIMEOUT_MS = 60_000;
export const DEFAULT_MCP_OUTPUT_BYTES = 64 * 1024;

interface CommonSettings {
  name: string;
  /** Where the server is declared, for messages that tell the user what to fix. */
  where: string;
  tools?: readonly string[];
  timeoutMs: number;
  maxOutputBytes: number;
  /** Values that must never be shown: passed-through variables and header values. */
  secrets: readonly string[];
}

export type McpServerSettings =
  | (CommonSettings & {
      transport: 'stdio';
      argv: readonly [string, ...string[]];
      cwd: string;
      env: NodeJS.ProcessEnv;
    })
  | (CommonSettings & { transport: 'http'; url: URL; headers: Record<string, string> });

export function resolveMcpServers(
  servers: Readonly<Record<string, McpServerConfig>>,
  options: { source: string; workspace: string; env: NodeJS.ProcessEnv },
): Record<string, McpServerSettings> {
  const resolved: Record<string, McpServerSettings> = {};
  for (const [name, config] of Object.entries(servers)) {
    const where = `mcpServers.${name} in ${options.source}`;
    const common = {
      name,
      where,
      ...(config.tools ? { tools: config.tools } : {}),
      timeoutMs: config.timeoutMs ?? DEFAULT_MCP_TIMEOUT_MS,
      maxOutputBytes: config.maxOutputBytes ?? DEFAULT_MCP_OUTPUT_BYTES,
    };
    if ('command' in config) {
      const named = config.env ?? [];
      resolved[name] = {
        ...common,
        transport: 'stdio',
        argv: [config.command, ...(config.args ?? [])],
        cwd: resolve(options.workspace, config.cwd ?? '.'),
        env: allowListedEnv(named, options.env),
        secrets: named.flatMap((variable) => options.env[variable] ?? []),
      };
    } else {
      const headers: Record<string, string> = {};
      const secrets: string[] = [];
      for (const [header, template] of Object.entries(config.headers ?? {})) {
        const value = expandHeader(template, options.env, `headers.${header} of ${where}`);
        headers[header] = value;
        secrets.push(value);
      }
      resolved[name] = { ...common, transport: 'http', url: new URL(config.url), headers, secrets };
    }
  }
  return resolved;
}

/**
 * `Bearer ${TOKEN}` with TOKEN's value. A template naming no variable would be
 * a secret written into the config file, so it is refused.
 */
function expandHeader(template: string, env: NodeJS.ProcessEnv, where: string): string {
  const names = [...template.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!);
  if (names.length === 0) {
    throw new InputError(
      `${where}: a header value must come from an environment variable, e.g. "Bearer \${API_TOKEN}"; keep the secret out of the file`,
    );
  }
  for (const name of names) {
    if (!env[name]) throw new InputError(`${where}: environment variable ${name} is not set`);
  }
  return template.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => env[name]!);
}

/** Replaces every secret value in `text`; short values are left, since they would scrub ordinary words. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let clean = text;
  for (const secret of secrets) {
    if (secret.length >= 4) clean = clean.split(secret).join('***');
  }
  return clean;
}
