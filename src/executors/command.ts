/**
 * The `command` executor: each step runs an external agent program
 * (`claude -p`, `codex exec`, `aider`, `a3s-code`, any script). The prompt
 * reaches it as an argument or on stdin, never through a shell.
 */
import { resolve } from 'node:path';
import Mustache from 'mustache';
import { z } from 'zod';
import type { AgentStepSpec, StepOutcome } from '../contracts';
import { InputError, readDataFile } from '../config/data-file';
import {
  type AgentExecutor,
  NonRetryableStepError,
  type StepCacheIdentity,
  type StepContext,
} from './executor';
import { allowListedEnv, runProcess } from './process';
import { compileOutputSchema } from './structured-output';

const CommandFields = {
  /** Program and arguments; each element is a mustache template over the step (see {@link templateView}). */
  argv: z.array(z.string()).min(1, 'give at least the program to run'),
  /** Template written to stdin, e.g. `'{{prompt}}'`; omit it to pass the prompt in `argv` instead. */
  stdin: z.string().optional(),
  /** Working directory; relative paths are from the worker's. */
  cwd: z.string().min(1).optional(),
  /** Worker environment variables passed through by name (PATH, HOME, LANG... always are). */
  env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a variable name')).optional(),
  timeoutMs: z.number().int().positive().optional(),
  maxOutputBytes: z.number().int().positive().optional(),
  /** No output on stdout or stderr for this long retries the attempt; for programs that print only at the end. */
  stallTimeoutMs: z.number().int().min(100).optional(),
};
const CommandOverrideSchema = z.object(CommandFields).partial().strict();
type CommandOverride = z.infer<typeof CommandOverrideSchema>;

export const CommandFileSchema = z
  .object({
    concurrency: z.number().int().min(0).optional(),
    /** The command every agent runs unless `agents` overrides it. */
    default: CommandOverrideSchema.optional(),
    /** Per-agent fields, merged over `default`. */
    agents: z.record(CommandOverrideSchema).optional(),
  })
  .strict();
export type CommandFile = z.infer<typeof CommandFileSchema>;

interface CommandPlan {
  argv: [string, ...string[]];
  stdin?: string;
  cwd: string;
  env: string[];
  timeoutMs: number;
  maxOutputBytes: number;
}

const DEFAULTS = { cwd: '.', env: [], timeoutMs: 30 * 60_000, maxOutputBytes: 1024 * 1024 };
const DEFAULT_CONCURRENCY = 2;

/** Any `{{prompt}}` / `{{{prompt}}}` / `{{& prompt}}` reference. */
const PROMPT_REF = /\{\{\{?\s*&?\s*prompt\s*\}?\}\}/;

/** The command to run; the stall limit is the activity's business (see {@link CommandExecutor.stallTimeoutMs}). */
function plan({ stallTimeoutMs: _, ...fields }: CommandOverride, where: string): CommandPlan {
  const merged = { ...DEFAULTS, ...fields };
  const [program, ...args] = merged.argv ?? [];
  if (program === undefined) throw new InputError(`${where}.argv: give the program to run`);
  // A prompt passed nowhere is a silent no-op agent: almost certainly a config slip.
  if (![program, ...args, merged.stdin ?? ''].some((part) => PROMPT_REF.test(part))) {
    throw new InputError(`${where}: the prompt is passed nowhere; put {{prompt}} in argv or set stdin`);
  }
  return { ...merged, argv: [program, ...args], cwd: resolve(merged.cwd) };
}

export class CommandExecutor implements AgentExecutor {
  private readonly fallback?: CommandPlan;
  private readonly perAgent = new Map<string, CommandPlan>();

  /** Checks every command up front, so a bad file fails the worker at start, not a step at run time. */
  constructor(
    private readonly file: CommandFile,
    source = 'command config',
  ) {
    if (file.default) this.fallback = plan(file.default, `${source}: default`);
    for (const [agent, fields] of Object.entries(file.agents ?? {})) {
      this.perAgent.set(agent, plan({ ...file.default, ...fields }, `${source}: agents.${agent}`));
    }
  }

  static async fromFile(path: string): Promise<CommandExecutor> {
    return new CommandExecutor(await readDataFile(path, CommandFileSchema), path);
  }

  concurrencyHint(): number {
    return this.file.concurrency ?? DEFAULT_CONCURRENCY;
  }

  stallTimeoutMs(spec: AgentStepSpec): number | undefined {
    return this.file.agents?.[spec.agent]?.stallTimeoutMs ?? this.file.default?.stallTimeoutMs;
  }

  /** The agent's command (program, argv, cwd, environment names) is its profile and its config. */
  cacheIdentity(spec: AgentStepSpec): StepCacheIdentity {
    return { config: { command: this.perAgent.get(spec.agent) ?? this.fallback ?? null } };
  }

  async executeStep(spec: AgentStepSpec, context: StepContext): Promise<StepOutcome> {
    const command = this.perAgent.get(spec.agent) ?? this.fallback;
    if (!command) {
      throw new NonRetryableStepError(
        `no command for agent "${spec.agent}": add it under agents: or set default: in the command config`,
      );
    }
    const check = spec.outputSchema ? await compileOutputSchema(spec.outputSchema) : undefined;
    const view = templateView(spec, context);
    const render = (template: string) => Mustache.render(template, view, {}, { escape: String });
    const [program, ...args] = command.argv.map(render) as [string, ...string[]];

    let run;
    try {
      run = await runProcess({
        argv: [program, ...args],
        cwd: command.cwd,
        env: {
          ...allowListedEnv(command.env),
          TAO_TASK_ID: spec.taskId,
          TAO_AGENT: spec.agent,
          TAO_WORKFLOW_ID: context.workflowId,
          TAO_ATTEMPT: String(context.attempt),
        },
        ...(command.stdin !== undefined ? { stdin: render(command.stdin) } : {}),
        timeoutMs: command.timeoutMs,
        maxOutputBytes: command.maxOutputBytes,
        signal: context.signal,
        onOutput: (tail) => context.output(tail),
        onProgress: () => context.progress?.(),
      });
    } catch (error) {
      if (context.signal.aborted) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      // The program or directory is missing: a retry on this worker would fail the same way.
      if (code === 'ENOENT' || code === 'EACCES') {
        throw new NonRetryableStepError(
          `cannot run ${program} in ${command.cwd} (${code}): install it or fix argv/cwd in the command config`,
        );
      }
      throw error;
    }

    const base = { taskId: spec.taskId, agent: spec.agent, sessionId: `task-run-${spec.taskId}` };
    const output =
      run.droppedBytes > 0
        ? `${run.stdout}\n[output truncated: ${run.droppedBytes} bytes over the ${command.maxOutputBytes}-byte cap]`
        : dropFinalNewline(run.stdout);
    const stderr = run.stderrTail.trim();
    const failure = run.timedOut
      ? `timed out after ${command.timeoutMs} ms; process tree killed`
      : run.exitCode !== 0
        ? `${program} ${run.exitSignal ? `killed by ${run.exitSignal}` : `exited with status ${run.exitCode}`}`
        : undefined;
    if (failure) {
      return { ...base, output, success: false, error: stderr ? `${failure}: ${stderr}` : failure };
    }
    if (!check) return { ...base, output, success: true };
    const structured = check(run.stdout);
    return structured.ok
      ? { ...base, output, success: true, structured: structured.value }
      : { ...base, output, success: false, error: `structured output rejected: ${structured.reason}` };
  }
}

/**
 * A program's output as a shell's `$(…)` would give it, but gentler: one
 * final line ending (`\n` or `\r\n`) is the program ending its last line,
 * not part of the answer, so it goes; a second one, or other trailing
 * space, was written on purpose and stays. A truncated output keeps its
 * cut as it is, since its end is not the program's end.
 */
function dropFinalNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}

/** What argv and stdin templates can name. */
function templateView(spec: AgentStepSpec, context: StepContext) {
  return {
    prompt: spec.prompt,
    taskId: spec.taskId,
    agent: spec.agent,
    description: spec.description,
    maxSteps: spec.maxSteps ?? '',
    workflowId: context.workflowId,
    attempt: context.attempt,
  };
}
