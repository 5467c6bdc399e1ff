/**
 * The `script` executor: scripted agent steps for dry runs, demos and tests.
 * No model is called; each step's outcome comes from a rule in a YAML/JSON file.
 */
import Mustache from 'mustache';
import { z } from 'zod';
import {
  type AgentStepSpec,
  DelegatedTaskSchema,
  type DelegationRequest,
  QuestionRequestSchema,
  ToolCallRequestSchema,
  type StepCache,
  StepCacheSchema,
  StepUsageSchema,
} from '../contracts';
import { readDataFile } from '../config/data-file';
import {
  type AgentExecutor,
  type ExecutorResult,
  NonRetryableStepError,
  type StepCacheIdentity,
  type StepContext,
  agentCachesOf,
} from './executor';

const RuleSchema = z
  .object({
    /** Mustache template over prompt, taskId, agent, description. Default: echo the prompt. */
    output: z.string().optional(),
    success: z.boolean().optional(),
    delayMs: z.number().int().min(0).optional(),
    /** Crash the step with this message; never retried. */
    throw: z.string().optional(),
    /** Fail the first N attempts with a transient error, as a flaky transport would. */
    failAttempts: z.number().int().min(0).optional(),
    /** Literal structured output attached to the outcome. */
    structured: z.unknown().optional(),
    /** What the step reports it cost, as a model's executor would: for dry runs of budgets. */
    usage: StepUsageSchema.optional(),
    /**
     * Tasks the step delegates in one call, as an llm agent's `task` or
     * `parallel_task` would, when the workflow offers delegation; the step then
     * answers with `output`, which sees the children's outcomes as `results`.
     */
    delegate: z.array(DelegatedTaskSchema).min(1).optional(),
    /**
     * A question the step asks a person first, as an llm agent's `ask_user`
     * would; the step then answers with `output`, which sees the answer as
     * `answer`. `timeoutMs` and `onTimeout` bound the wait.
     */
    ask: QuestionRequestSchema.pick({ question: true, choices: true, timeoutMs: true, onTimeout: true })
      .strict()
      .optional(),
    /**
     * A tool call the step asks a person to decide first, as an llm agent's
     * `ask` rule would, unless the run granted its tool; the step then answers
     * with `output`, which sees `toolDecision` (approved, rejected, granted),
     * `comment`, and `toolInput` (edited arguments, as JSON).
     */
    toolCall: ToolCallRequestSchema.pick({ tool: true, input: true }).strict().optional(),
  })
  .strict();
export type ScriptRule = z.infer<typeof RuleSchema>;

export const ScriptFileSchema = z
  .object({
    concurrency: z.number().int().min(0).optional(),
    default: RuleSchema.optional(),
    /** With `cache`, every step of the agent uses the step cache across runs, as an llm agent profile's does. */
    agents: z.record(RuleSchema.extend({ cache: StepCacheSchema.optional() })).optional(),
    tasks: z.record(RuleSchema).optional(),
  })
  .strict();
export type ScriptFile = z.infer<typeof ScriptFileSchema>;

const DEFAULT_CONCURRENCY = 4;

export class ScriptExecutor implements AgentExecutor {
  constructor(private readonly script: ScriptFile = {}) {}

  static async fromFile(path: string): Promise<ScriptExecutor> {
    return new ScriptExecutor(await readDataFile(path, ScriptFileSchema));
  }

  concurrencyHint(): number {
    return this.script.concurrency ?? DEFAULT_CONCURRENCY;
  }

  /** The script decides every outcome. */
  cacheIdentity(): StepCacheIdentity {
    return { config: { script: this.script } };
  }

  agentCaches(): Record<string, StepCache> {
    return agentCachesOf(this.script.agents ?? {});
  }

  private ruleFor(spec: AgentStepSpec): ScriptRule {
    return this.script.tasks?.[spec.taskId] ?? this.script.agents?.[spec.agent] ?? this.script.default ?? {};
  }

  async executeStep(spec: AgentStepSpec, context: StepContext): Promise<ExecutorResult> {
    const rule = this.ruleFor(spec);
    const delegated = context.delegation?.resume?.results.flatMap((result) => result.outcomes);
    const offer = context.delegation;
    const bound = Math.min(SCRIPT_MAX_DEPTH, offer?.maxDepth ?? SCRIPT_MAX_DEPTH);
    if (rule.delegate && offer && offer.depth < bound && !delegated) {
      return { delegation: delegationOf(rule.delegate, bound) };
    }
    if (rule.delayMs) await sleepUnlessCancelled(rule.delayMs, context.signal);
    if (rule.ask && !context.answer) {
      return { question: { callId: 'ask-1', ...rule.ask, state: { kind: 'tao.script.question/1' } } };
    }
    const decided = context.toolDecision?.decision;
    const granted = context.toolGrants?.some((grant) => grant.tool === rule.toolCall?.tool);
    if (rule.toolCall && !granted && (decided === undefined || decided === 'redecide')) {
      const { tool, input } = rule.toolCall;
      const asked = { callId: 'tool-1', tool, input, reason: '', rule: `script rule of ${spec.taskId}` };
      return { toolCall: { ...asked, grant: { tool }, state: { kind: 'tao.script.tool/1' } } };
    }
    if (rule.throw !== undefined) throw new NonRetryableStepError(rule.throw);
    if (rule.failAttempts !== undefined && context.attempt <= rule.failAttempts) {
      throw new Error(`scripted transient failure on attempt ${context.attempt} of ${spec.taskId}`);
    }
    const view = {
      prompt: spec.prompt,
      taskId: spec.taskId,
      agent: spec.agent,
      description: spec.description,
      results: delegated ?? [],
      answer: context.answer?.text,
      toolDecision: decided && decided !== 'redecide' ? decided : granted ? 'granted' : undefined,
      comment: context.toolDecision?.comment,
      toolInput: JSON.stringify(context.toolDecision?.input),
    };
    const template = rule.output ?? (delegated ? DELEGATED_OUTPUT : '{{prompt}}');
    const output = Mustache.render(template, view, {}, { escape: String });
    const success = rule.success ?? true;
    return {
      taskId: spec.taskId,
      agent: spec.agent,
      sessionId: `task-run-${spec.taskId}`,
      output,
      success,
      ...(rule.structured !== undefined ? { structured: rule.structured } : {}),
      ...(rule.usage ? { usage: rule.usage } : {}),
      ...(success ? {} : { error: output }),
    };
  }
}

const DELEGATED_OUTPUT = '{{#results}}{{taskId}}: {{output}}\n{{/results}}';
/** A script cannot read an llm profile's bound; it delegates as deep as the default allows. */
const SCRIPT_MAX_DEPTH = 2;

function delegationOf(tasks: ScriptRule['delegate'] & object, maxDepth: number): DelegationRequest {
  return {
    calls: [
      {
        callId: 'call-1',
        tool: tasks.length > 1 ? 'parallel_task' : 'task',
        tasks,
        allowPartialFailure: false,
      },
    ],
    state: { kind: 'tao.script.delegation/1' },
    maxDepth,
  };
}

/** Waits `ms`, stopping at once when the step is cancelled. */
function sleepUnlessCancelled(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason ?? new Error('step cancelled'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
