/**
 * Delegation for llm agents: the `task` and `parallel_task` tools (a3s-code's
 * names and parameters). A call the model can fix (bad arguments, too many
 * tasks, an agent it may not use, an output_schema Ajv cannot compile) is
 * refused with an error result it reads; an accepted call is not run here: the
 * step ends its attempt with it, workflow code runs each task as a step of the
 * same run, and the step is run again with their outcomes (./delegation-results).
 */
import { z } from 'zod/v4';
import type { DelegatedTask, DelegationAllowance, DelegationCall } from '../../contracts';
import { outputSchemaProblem } from '../structured-output';
import type { ToolCall, ToolResult, ToolSpec } from './chat';
import type { DelegationSettings, ResolvedProfile } from './config';
import { ToolError, parseToolArguments, toolParameters } from './tools';

export type DelegationToolName = DelegationCall['tool'];

/** What one step may delegate, when the workflow and its profile both allow it. */
export interface Delegator {
  /** The tools offered to the model. */
  readonly specs: ToolSpec[];
  /** The bound the step's children inherit: they delegate only while their depth is below it. */
  readonly maxDepth: number;
  handles(call: ToolCall): boolean;
  /**
   * Accepts a call, or refuses it with the error result the model reads.
   * `delegatedBefore`: tasks this step delegated before this call, over its whole life.
   */
  review(
    call: ToolCall,
    delegatedBefore: number,
  ): Promise<{ accepted: DelegationCall } | { refused: ToolResult }>;
}

/**
 * The delegator for a step of `profile`, or `undefined` when it may not
 * delegate: the workflow offered no delegation, the profile has none, or the
 * step is already as deep as the tighter of its profile's and its parent's bound.
 */
export function delegatorFor(
  profile: ResolvedProfile,
  allowance: DelegationAllowance | undefined,
  profiles: Readonly<Record<string, ResolvedProfile>>,
): Delegator | undefined {
  const settings = profile.delegation;
  if (!allowance || !settings) return undefined;
  const maxDepth = Math.min(settings.maxDepth, allowance.maxDepth ?? settings.maxDepth);
  if (allowance.depth >= maxDepth) return undefined;
  const agents = [...settings.agents].sort() as [string, ...string[]];
  const catalog = agents.map((name) => `- ${name}: ${profiles[name]?.description ?? ''}`).join('\n');
  const task = taskArguments(agents);
  const schemas: Partial<Record<DelegationToolName, z.ZodType>> = { task };
  const specs: ToolSpec[] = [
    { name: 'task', description: taskDescription(settings, catalog), parameters: toolParameters(task) },
  ];
  // A profile that allows one task per call has no use for the fan-out tool.
  if (settings.maxTasksPerCall >= 2) {
    schemas.parallel_task = parallelArguments(task, settings.maxTasksPerCall);
    specs.push({
      name: 'parallel_task',
      description: parallelDescription(settings, catalog),
      parameters: toolParameters(schemas.parallel_task),
    });
  }
  return {
    specs,
    maxDepth,
    handles: (call) => Object.hasOwn(schemas, call.name),
    async review(call, delegatedBefore) {
      const tool = call.name as DelegationToolName;
      try {
        const args = parseToolArguments(schemas[tool]!, call.input) as ParallelArguments | TaskArguments;
        const tasks = 'tasks' in args ? args.tasks : [args];
        if (delegatedBefore + tasks.length > settings.maxTasksPerStep) {
          throw new ToolError(
            `this step may delegate ${settings.maxTasksPerStep} tasks in all and has delegated ${delegatedBefore}; ${tasks.length} more asked. Do the rest yourself or ask for fewer`,
          );
        }
        for (const [index, item] of tasks.entries())
          await checkOutputSchema(item, 'tasks' in args ? index : undefined);
        return {
          accepted: {
            callId: call.id,
            tool,
            tasks: tasks.map(toDelegatedTask),
            allowPartialFailure: 'tasks' in args ? args.allow_partial_failure : false,
          },
        };
      } catch (error) {
        if (!(error instanceof ToolError)) throw error;
        return { refused: { callId: call.id, content: `error: ${error.message}`, isError: true } };
      }
    },
  };
}

function taskArguments(agents: [string, ...string[]]) {
  const names = agents.join(', ');
  return z
    .object({
      agent: z
        .enum(agents, {
          error: (issue) =>
            issue.input === undefined
              ? `required: one of ${names}`
              : `agent ${JSON.stringify(issue.input)} is not one this agent may delegate to; use one of: ${names}`,
        })
        .describe(`Required. The agent to run this task: one of ${names}.`),
      description: z
        .string()
        .min(1)
        .describe("Required. A short label for the task, shown in the run's progress."),
      prompt: z
        .string()
        .min(1)
        .describe(
          'Required. The whole instruction for the agent. It sees nothing of your conversation, so include every path, fact and constraint it needs.',
        ),
      max_steps: z
        .number()
        .int()
        .min(1)
        .optional()
        .describe('Optional. The most rounds the agent may take (default: its own limit).'),
      output_schema: z
        .record(z.string(), z.unknown())
        .optional()
        .describe(
          "Optional. A JSON Schema the agent's final answer must satisfy. The answer is then bare JSON, and the task fails if it does not validate.",
        ),
    })
    .strict();
}
type TaskArguments = z.output<ReturnType<typeof taskArguments>>;

function parallelArguments(task: ReturnType<typeof taskArguments>, perCall: number) {
  const count = (input: unknown) => (Array.isArray(input) ? input.length : 0);
  return z
    .object({
      tasks: z
        .array(task)
        .min(2, {
          error: (issue) =>
            `parallel_task needs at least 2 tasks, got ${count(issue.input)}; use task for a single task`,
        })
        .max(perCall, {
          error: (issue) =>
            `parallel_task takes at most ${perCall} tasks per call, got ${count(issue.input)}; split the work over several calls`,
        })
        .describe('Two or more INDEPENDENT tasks, run concurrently.'),
      allow_partial_failure: z
        .boolean()
        .default(false)
        .describe(
          'Optional, default false. When true, the call succeeds if at least one task succeeds; failed tasks are still reported.',
        ),
    })
    .strict();
}
type ParallelArguments = z.output<ReturnType<typeof parallelArguments>>;

function taskDescription(settings: DelegationSettings, catalog: string): string {
  return `Delegate one bounded task to another agent. It runs as its own step of this run, with that agent's tools and a fresh context, and you get back only its final answer (a long one cut to its start and end). Your turn waits until it has finished. For several INDEPENDENT tasks at once, use parallel_task. This step may delegate ${settings.maxTasksPerStep} tasks in all. Agents you may use:\n${catalog}`;
}

function parallelDescription(settings: DelegationSettings, catalog: string): string {
  return `Run two or more INDEPENDENT tasks at the same time, each as its own step of this run with another agent and a fresh context; you get back each one's final answer, and your turn waits until all have finished. By default the call fails if any task fails; set allow_partial_failure=true when partial results are still useful. At most ${settings.maxTasksPerCall} tasks per call, ${settings.maxTasksPerStep} in all for this step. Agents you may use:\n${catalog}`;
}

async function checkOutputSchema(task: TaskArguments, index: number | undefined): Promise<void> {
  if (!task.output_schema) return;
  const problem = await outputSchemaProblem(task.output_schema);
  if (problem === undefined) return;
  const where = index === undefined ? 'output_schema' : `tasks.${index}.output_schema`;
  throw new ToolError(`${where} is not a valid JSON Schema: ${problem}; fix it or leave it out`);
}

function toDelegatedTask(task: TaskArguments): DelegatedTask {
  return {
    agent: task.agent,
    description: task.description,
    prompt: task.prompt,
    ...(task.max_steps !== undefined ? { maxSteps: task.max_steps } : {}),
    ...(task.output_schema !== undefined ? { outputSchema: task.output_schema } : {}),
  };
}
