/**
 * The tools an agent may call, all confined to its {@link Workspace}.
 * Reading tools are always safe to offer; `write_file` and `run_shell` exist
 * only for profiles that list them.
 *
 * Arguments come from the model, so each tool validates them with zod. The
 * schemas use zod's v4 API (shipped inside the zod package) for its native
 * JSON Schema export: the schema the model is shown and the one its
 * arguments are checked against are the same object and cannot drift.
 */
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import picomatch from 'picomatch';
import { z } from 'zod/v4';
import { NonRetryableStepError, RetryableStepError } from '../executor';
import { allowListedEnv, runProcess } from '../process';
import type { ToolCall, ToolResult, ToolSpec } from './chat';
import { TOOL_NAMES, type ToolName } from './tool-names';
import type { Workspace } from './workspace';

export { READ_ONLY_TOOLS, TOOL_NAMES, type ToolName } from './tool-names';

/** Caps that keep one tool result from filling the model's context. */
const LIMITS = {
  fileBytes: 5 * 1024 * 1024,
  readBytes: 64 * 1024,
  readLines: 2_000,
  scanFileBytes: 1024 * 1024,
  listEntries: 500,
  matches: 100,
  matchLineChars: 300,
  shellOutputBytes: 64 * 1024,
  shellTimeoutMs: 120_000,
};

interface Tool {
  description: string;
  parameters: Record<string, unknown>;
  invoke(input: unknown, workspace: Workspace, signal: AbortSignal): Promise<string>;
}

/** A tool result the model should read as a failure (bad arguments, missing file, refused path). */
export class ToolError extends Error {}

/**
 * A tool from outside the built-in set (an MCP server's), offered beside them.
 * `invoke` throws a {@link ToolError} for what the model should hear about,
 * and a step error (retryable or not) when the step itself cannot go on.
 */
export interface ExternalTool {
  spec: ToolSpec;
  invoke(input: unknown, signal: AbortSignal): Promise<string>;
}

/** The JSON Schema a model is shown for arguments that `args` checks. */
export function toolParameters(args: z.ZodType): Record<string, unknown> {
  const parameters: Record<string, unknown> = { ...z.toJSONSchema(args, { io: 'input' }) };
  delete parameters.$schema; // providers take the bare schema; the dialect marker only confuses some
  return parameters;
}

/** A model's arguments checked against `args`; a {@link ToolError} naming every problem when they do not fit. */
export function parseToolArguments<S extends z.ZodType>(args: S, input: unknown): z.output<S> {
  const parsed = args.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'arguments'}: ${i.message}`);
    throw new ToolError(`invalid arguments: ${issues.join('; ')}`);
  }
  return parsed.data;
}

function defineTool<S extends z.ZodType>(
  description: string,
  args: S,
  run: (args: z.output<S>, workspace: Workspace, signal: AbortSignal) => Promise<string>,
): Tool {
  return {
    description,
    parameters: toolParameters(args),
    async invoke(input, workspace, signal) {
      return run(parseToolArguments(args, input), workspace, signal);
    },
  };
}

const relPath = (what: string) => z.string().min(1).describe(`${what}, relative to the workspace root`);
const dirPath = relPath('directory').default('.');

const TOOLS: Record<ToolName, Tool> = {
  read_file: defineTool(
    'Read a text file. Long files come back in pages: pass startLine to read further.',
    z
      .object({
        path: relPath('file'),
        startLine: z
          .number()
          .int()
          .min(1)
          .max(10_000_000)
          .optional()
          .describe('first line to return (1-based)'),
        maxLines: z.number().int().min(1).max(LIMITS.readLines).optional(),
      })
      .strict(),
    async ({ path, startLine = 1, maxLines = LIMITS.readLines }, workspace) => {
      const file = await workspace.resolve(path);
      const text = await readText(file, path);
      const lines = text.split('\n');
      let page = lines.slice(startLine - 1, startLine - 1 + maxLines).join('\n');
      if (Buffer.byteLength(page) > LIMITS.readBytes) {
        page = Buffer.from(page).subarray(0, LIMITS.readBytes).toString('utf8');
      }
      const shownTo = startLine - 1 + page.split('\n').length;
      const more = shownTo < lines.length ? `\n[lines ${startLine}-${shownTo} of ${lines.length}]` : '';
      return page + more;
    },
  ),

  list_directory: defineTool(
    'List a directory: subdirectories end with "/", symbolic links with "@".',
    z.object({ path: dirPath }).strict(),
    async ({ path }, workspace) => {
      const dir = await workspace.resolve(path);
      const entries = await readdir(dir, { withFileTypes: true });
      const names = entries
        .map((e) => e.name + (e.isDirectory() ? '/' : e.isSymbolicLink() ? '@' : ''))
        .sort();
      return capList(names, LIMITS.listEntries, 'entries') || '(empty directory)';
    },
  ),

  search_text: defineTool(
    'Search file contents line by line; answers "path:line: text". Skips .git, node_modules and binary files.',
    z
      .object({
        pattern: z
          .string()
          .min(1)
          .describe('text to find (a JavaScript regular expression when regex is true)'),
        regex: z.boolean().default(false),
        ignoreCase: z.boolean().default(false),
        path: dirPath.describe('directory or file to search, relative to the workspace root'),
        glob: z.string().min(1).optional().describe('only files matching this glob, e.g. "**/*.ts"'),
      })
      .strict(),
    async ({ pattern, regex, ignoreCase, path, glob }, workspace) => {
      let matcher: RegExp;
      try {
        matcher = new RegExp(regex ? pattern : escapeRegExp(pattern), ignoreCase ? 'i' : '');
      } catch (error) {
        throw new ToolError(`invalid regular expression: ${(error as Error).message}`);
      }
      const keep = glob ? picomatch(glob, { basename: !glob.includes('/') }) : () => true;
      const hits: string[] = [];
      for await (const file of filesUnder(workspace, await workspace.resolve(path))) {
        const shown = workspace.display(file);
        if (!keep(shown)) continue;
        const text = await readText(file, shown, LIMITS.scanFileBytes).catch(() => undefined);
        text?.split('\n').forEach((line, index) => {
          if (matcher.test(line)) hits.push(`${shown}:${index + 1}: ${line.slice(0, LIMITS.matchLineChars)}`);
        });
        if (hits.length > LIMITS.matches) break;
      }
      return capList(hits, LIMITS.matches, 'matches') || 'no matches';
    },
  ),

  glob: defineTool(
    'List files whose path (relative to the workspace root) matches a glob such as "src/**/*.ts".',
    z.object({ pattern: z.string().min(1), path: dirPath }).strict(),
    async ({ pattern, path }, workspace) => {
      const matches = picomatch(pattern);
      const found: string[] = [];
      for await (const file of filesUnder(workspace, await workspace.resolve(path))) {
        const shown = workspace.display(file);
        if (matches(shown)) found.push(shown);
        if (found.length > LIMITS.listEntries) break;
      }
      return capList(found, LIMITS.listEntries, 'files') || 'no files match';
    },
  ),

  write_file: defineTool(
    'Create or overwrite a text file (parent directories are created).',
    z.object({ path: relPath('file'), content: z.string() }).strict(),
    async ({ path, content }, workspace) => {
      const file = await workspace.resolve(path);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, content);
      return `wrote ${Buffer.byteLength(content)} bytes to ${workspace.display(file)}`;
    },
  ),

  run_shell: defineTool(
    'Run a shell command (sh -c) in the workspace root; answers its exit status, stdout and stderr.',
    z
      .object({
        command: z.string().min(1),
        timeoutMs: z.number().int().min(1).max(LIMITS.shellTimeoutMs).optional(),
      })
      .strict(),
    async ({ command, timeoutMs = LIMITS.shellTimeoutMs }, workspace, signal) => {
      // Only the base environment: the worker's API keys are not the model's to read.
      const run = await runProcess({
        argv: ['sh', '-c', command],
        cwd: workspace.root,
        env: allowListedEnv([]),
        timeoutMs,
        maxOutputBytes: LIMITS.shellOutputBytes,
        signal,
      });
      const status = run.timedOut
        ? `timed out after ${timeoutMs} ms (process tree killed)`
        : run.exitSignal
          ? `killed by ${run.exitSignal}`
          : `exit status ${run.exitCode}`;
      const dropped = run.droppedBytes ? `\n[stdout truncated: ${run.droppedBytes} bytes dropped]` : '';
      return `${status}\n--- stdout ---\n${run.stdout}${dropped}\n--- stderr (tail) ---\n${run.stderrTail}`;
    },
  ),
};

export interface Toolbox {
  /** What the model is offered; empty when the profile allows no tools. */
  readonly specs: ToolSpec[];
  /**
   * Runs one call. Tool failures become error results for the model; only
   * cancellation and step errors (an MCP server gone, or misconfigured) throw.
   */
  run(call: ToolCall, signal: AbortSignal): Promise<ToolResult>;
}

export function createToolbox(
  workspace: Workspace,
  allowed: readonly ToolName[],
  external: readonly ExternalTool[] = [],
): Toolbox {
  const tools = new Map<string, ExternalTool>();
  for (const name of TOOL_NAMES.filter((name) => allowed.includes(name))) {
    const tool = TOOLS[name];
    tools.set(name, {
      spec: { name, description: tool.description, parameters: tool.parameters },
      invoke: (input, signal) => tool.invoke(input, workspace, signal),
    });
  }
  for (const tool of external) tools.set(tool.spec.name, tool);
  return {
    specs: [...tools.values()].map((tool) => tool.spec),
    async run(call, signal) {
      const tool = tools.get(call.name);
      try {
        if (!tool)
          throw new ToolError(
            `no tool "${call.name}" here; available: ${[...tools.keys()].join(', ') || 'none'}`,
          );
        return { callId: call.id, content: await tool.invoke(call.input, signal), isError: false };
      } catch (error) {
        if (signal.aborted || error instanceof RetryableStepError || error instanceof NonRetryableStepError)
          throw error;
        return { callId: call.id, content: `error: ${describeToolFailure(error)}`, isError: true };
      }
    },
  };
}

/** Files under `target` (a resolved path), or just `target` when it is a file. */
async function* filesUnder(workspace: Workspace, target: string): AsyncGenerator<string> {
  if ((await stat(target)).isFile()) yield target;
  else yield* workspace.walk(target);
}

async function readText(file: string, shown: string, maxBytes = LIMITS.fileBytes): Promise<string> {
  const info = await stat(file);
  if (info.isDirectory()) throw new ToolError(`${shown} is a directory; use list_directory`);
  if (info.size > maxBytes)
    throw new ToolError(`${shown} is too large (${info.size} bytes); use search_text`);
  const bytes = await readFile(file);
  if (bytes.subarray(0, 8_000).includes(0)) throw new ToolError(`${shown} is a binary file`);
  return bytes.toString('utf8');
}

function capList(items: string[], cap: number, what: string): string {
  const shown = items.slice(0, cap).join('\n');
  return items.length > cap ? `${shown}\n[more ${what} not shown; narrow the request]` : shown;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** File-system errors name absolute worker paths; the model only needs what went wrong. */
function describeToolFailure(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const known: Record<string, string> = {
    ENOENT: 'no such file or directory',
    ENOTDIR: 'not a directory',
    EISDIR: 'is a directory',
    EACCES: 'permission denied',
  };
  if (code && known[code]) return known[code];
  return error instanceof Error ? error.message : String(error);
}
