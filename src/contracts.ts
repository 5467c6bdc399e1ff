/**
 * The wire contracts of TAO (SPEC.md "Data contracts"): one zod schema per
 * shape that crosses a boundary, with the TypeScript type inferred from it so
 * the two can never drift. Imported by workflow code too, so it stays pure.
 */
import { z } from 'zod';

const nonEmpty = z.string().min(1, 'must be a non-empty string');

/** The longest checkpoint id any store accepts: room for generated ids, far from key and file-name limits. */
export const MAX_CHECKPOINT_ID_LENGTH = 512;
/** A checkpoint id every store can hold as is: bounded, printable (no control characters). */
export const CheckpointIdSchema = nonEmpty
  .max(MAX_CHECKPOINT_ID_LENGTH, `must be at most ${MAX_CHECKPOINT_ID_LENGTH} characters`)
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters');

/**
 * A person's decision on a step: `before` it starts, and/or `after` it
 * succeeds (its outcome counts only once approved). With `timeoutMs`, no
 * decision in time counts as `onTimeout` (default `reject`).
 */
export const ApprovalSchema = z
  .object({
    before: z.boolean().optional(),
    after: z.boolean().optional(),
    timeoutMs: z.number().int().positive().optional(),
    onTimeout: z.enum(['approve', 'reject']).optional(),
  })
  .strict();
export type Approval = z.infer<typeof ApprovalSchema>;

/**
 * Opt-in cache across runs (docs/workflows.md, Cache): a step whose key
 * (spec digest, the worker's agent profile, model and executor config, and
 * `key`, e.g. the workspace's git commit) matches a successful outcome in
 * the checkpoint store takes it instead of running. `ttlMs` bounds its age.
 */
export const StepCacheSchema = z
  .object({
    ttlMs: z.number().int().positive().optional(),
    key: z.string().max(1024, 'must be at most 1024 characters').optional(),
  })
  .strict();
export type StepCache = z.infer<typeof StepCacheSchema>;

/**
 * A step spec refuses fields TAO does not know, naming them: a misspelt
 * `maxStep`, or a field only a newer build understands, must not be dropped silently.
 */
export const AgentStepSpecSchema = z
  .object({
    taskId: nonEmpty,
    agent: nonEmpty,
    description: z.string().default(''),
    prompt: z.string(),
    maxSteps: z.number().int().min(1).optional(),
    parentSessionId: z.string().optional(),
    outputSchema: z.record(z.unknown()).optional(),
    approval: ApprovalSchema.optional(),
    cache: StepCacheSchema.optional(),
    /** Retry an attempt whose executor shows no progress for this long; default: the worker's (src/activities/stall-watchdog.ts). */
    stallTimeoutMs: z.number().int().min(100).optional(),
  })
  .strict();
export type AgentStepSpec = z.output<typeof AgentStepSpecSchema>;
export type AgentStepSpecInput = z.input<typeof AgentStepSpecSchema>;

/** What one step cost: tokens summed over its model calls, and its wall-clock time. */
export const StepUsageSchema = z.object({
  /** Every prompt token the model read, served from the provider's prompt cache or not. */
  inputTokens: z.number().int().min(0),
  outputTokens: z.number().int().min(0),
  /** Of `inputTokens`: read from the provider's prompt cache (billed at a discount); absent when none. */
  cacheReadTokens: z.number().int().min(0).optional(),
  /** Of `inputTokens`: written to the provider's prompt cache (Anthropic bills these above the base price); absent when none. */
  cacheWriteTokens: z.number().int().min(0).optional(),
  model: z.string(),
  latencyMs: z.number().int().min(0),
  /** What the provider bills, from the model's prices in the LLM config (cache reads and writes at their own rates), when it has them. */
  costUsd: z.number().min(0).optional(),
});
export type StepUsage = z.infer<typeof StepUsageSchema>;

/**
 * A run's spend limit, across all its steps: model tokens (input plus
 * output), steps run, and dollars (from the models' prices). Once any is
 * spent, no new step starts (see workflows/lib/budget).
 */
export const BudgetSchema = z
  .object({
    maxTokens: z.number().int().positive().optional(),
    maxSteps: z.number().int().positive().optional(),
    maxCostUsd: z.number().positive().optional(),
    /**
     * A step about to start on a spent budget: `fail` it (default), or `wait`
     * as a pending decision until the limit is raised (`tao budget`), or a
     * person approves it (it runs past the limit) or rejects it (it fails).
     */
    onExhausted: z.enum(['fail', 'wait']).optional(),
  })
  .strict();
export type Budget = z.infer<typeof BudgetSchema>;

export const BudgetSpentSchema = z.object({
  tokens: z.number().int().min(0),
  steps: z.number().int().min(0),
  costUsd: z.number().min(0),
});
export type BudgetSpent = z.infer<typeof BudgetSpentSchema>;

export const StepOutcomeSchema = z.object({
  taskId: nonEmpty,
  agent: z.string(),
  sessionId: z.string(),
  output: z.string(),
  success: z.boolean(),
  structured: z.unknown().optional(),
  error: z.string().optional(),
  /** Set by executors that call a model; absent in outcomes from older builds. */
  usage: StepUsageSchema.optional(),
  /**
   * The step's activity put the whole outcome in the run's outcome store (a
   * run by reference): this one went through history without its output.
   */
  kept: z.literal(true).optional(),
  /**
   * In the outcome store only: the digest of the spec that produced it
   * (workflows/lib/spec-digest), so a rerun of the run reuses it only for an
   * unchanged spec.
   */
  specDigest: z.string().optional(),
});
export type StepOutcome = z.infer<typeof StepOutcomeSchema>;

/** A step a rerun by reference may take from the run it reruns: its place, task id and spec digest. */
export const ReusableStepSchema = z
  .object({ seq: z.number().int().min(0), taskId: nonEmpty, specDigest: nonEmpty })
  .strict();
export type ReusableStep = z.infer<typeof ReusableStepSchema>;

/** Where a run by reference keeps a top-level step's outcome: its run's workflow id and the item's place in its source. */
export const OutcomePlaceSchema = z.object({ run: nonEmpty, seq: z.number().int().min(0) }).strict();
export type OutcomePlace = z.infer<typeof OutcomePlaceSchema>;

/**
 * Delegation (docs/executors.md, Delegation): an llm step whose agent calls
 * `task` or `parallel_task` ends its attempt with a {@link DelegationRequest}
 * instead of an outcome. Workflow code runs the asked-for tasks as child steps
 * of the same run, then runs the step again with their outcomes
 * ({@link DelegationResult}) and the saved conversation, which goes on from
 * the tool call. A step never delegates unless the workflow offered it (the
 * activity's `delegation` allowance), so an executor or workflow that knows
 * nothing of it is unaffected.
 */
export const DelegatedTaskSchema = z
  .object({
    agent: nonEmpty,
    description: z.string(),
    prompt: z.string(),
    maxSteps: z.number().int().min(1).optional(),
    outputSchema: z.record(z.unknown()).optional(),
  })
  .strict();
export type DelegatedTask = z.infer<typeof DelegatedTaskSchema>;

export const DelegationCallSchema = z
  .object({
    /** The model's tool-call id: the result goes back to it. */
    callId: nonEmpty,
    tool: z.enum(['task', 'parallel_task']),
    tasks: z.array(DelegatedTaskSchema).min(1),
    /** `parallel_task`: the call succeeds when at least one task did (a3s's meaning). */
    allowPartialFailure: z.boolean(),
  })
  .strict();
export type DelegationCall = z.infer<typeof DelegationCallSchema>;

export const DelegationRequestSchema = z
  .object({
    calls: z.array(DelegationCallSchema).min(1),
    /** The executor's own saved state (the conversation); opaque to the workflow, handed back as is. */
    state: z.unknown(),
    /** The step's usage so far, over all its attempts' segments: the workflow charges the budget the difference. */
    usage: StepUsageSchema.optional(),
    /** How deep the children's own delegation may go: the step's bound, at most its parent's. */
    maxDepth: z.number().int().min(0),
  })
  .strict();
export type DelegationRequest = z.infer<typeof DelegationRequestSchema>;

export const DelegationResultSchema = z
  .object({
    callId: nonEmpty,
    /** One per task of the call, in its order; each outcome's taskId is the child step's. */
    outcomes: z.array(StepOutcomeSchema),
  })
  .strict();
export type DelegationResult = z.infer<typeof DelegationResultSchema>;

/** The most characters one message to a running agent may carry: a note, not a document (put those in the workspace). */
export const MESSAGE_MAX_CHARS = 32_768;

/** A person's message to one step of a run (the `message` Update): the step's agent reads it before its next model call. */
export const StepMessageInputSchema = z
  .object({
    taskId: z.string().min(1),
    text: z.string().trim().min(1).max(MESSAGE_MAX_CHARS),
  })
  .strict();
export type StepMessageInput = z.infer<typeof StepMessageInputSchema>;

/** A message as the step reads it: numbered from 1 per step, in the order the run accepted them. */
export interface StepMessage {
  seq: number;
  text: string;
}

/** What the workflow offers a step: its depth, the bound, and, on a resume, what it asked for. */
export const DelegationAllowanceSchema = z
  .object({
    depth: z.number().int().min(0),
    /** The bound its parent's request set; absent for a step the run itself started. */
    maxDepth: z.number().int().min(0).optional(),
    resume: z
      .object({ state: z.unknown(), results: z.array(DelegationResultSchema) })
      .strict()
      .optional(),
  })
  .strict();
export type DelegationAllowance = z.infer<typeof DelegationAllowanceSchema>;

/** What a wait for an answer that timed out gives: an answer the agent reads, or the step fails. */
export const QuestionTimeoutSchema = z.union([
  z.literal('fail'),
  z.object({ answer: z.string().min(1) }).strict(),
]);

/**
 * A question an agent asked a person (an llm profile's `askUser`: the
 * `ask_user` tool): the step's attempt ends with its conversation saved
 * (`state`, opaque to the workflow), the step waits as a decision of kind
 * `question`, and the answer resumes it as the tool's result.
 */
export const QuestionRequestSchema = z
  .object({
    callId: z.string().min(1),
    question: z.string().min(1),
    /** Answers the agent offered; a person may still answer otherwise. */
    choices: z.array(z.string().min(1)).optional(),
    /** How long the step waits for an answer before `onTimeout` (default: fail); absent: as long as it takes. */
    timeoutMs: z.number().int().positive().optional(),
    onTimeout: QuestionTimeoutSchema.optional(),
    state: z.unknown(),
    usage: StepUsageSchema.optional(),
  })
  .strict();
export type QuestionRequest = z.infer<typeof QuestionRequestSchema>;

/** What resumes a step that asked: its saved state, and the answer to its `ask_user` call. */
export const AnswerAllowanceSchema = z
  .object({ callId: z.string().min(1), text: z.string(), state: z.unknown() })
  .strict();
export type AnswerAllowance = z.infer<typeof AnswerAllowanceSchema>;

/**
 * An allow rule a person granted for the whole run ("approve for this run"),
 * in a profile's `toolApproval` rule shape without its decision and reason
 * (executors/llm/approval/rules extends it into one): the tool, and the
 * pattern of the rule that asked. The workflow keeps and hands these
 * on without reading them; the executor matches calls against them.
 */
export const ToolGrantSchema = z
  .object({
    /** A built-in tool, or an MCP tool as `<server>.<tool>`, or all of a server's as `<server>.*`. */
    tool: z.string().min(1),
    /** run_shell: exactly this command (whitespace runs count as one space). */
    command: z.string().min(1).optional(),
    /** run_shell: this command, or it followed by a space and anything (`npm test` takes `npm test -- a.ts`, not `npm testx`). */
    prefix: z.string().min(1).optional(),
    /** run_shell: a JavaScript regular expression the whole command must match (it is anchored at both ends). */
    regex: z.string().min(1).optional(),
    /** File tools: a glob over the path the model gives, relative to the workspace root. */
    path: z.string().min(1).optional(),
    /** An allow with command or regex: match commands with shell control characters too, as a whole. */
    shellOperators: z.boolean().optional(),
  })
  .strict();
export type ToolGrant = z.infer<typeof ToolGrantSchema>;

/**
 * A tool call an agent's `toolApproval` says to ask about (an `ask` rule):
 * the step's attempt ends with its conversation saved, as a question's does,
 * and the step waits as a decision of kind `tool` until a person approves
 * (the call, or the call with edited arguments) or rejects it.
 */
export const ToolCallRequestSchema = z
  .object({
    callId: z.string().min(1),
    /** The tool as the model called it (an MCP tool as `server__tool`). */
    tool: z.string().min(1),
    input: z.unknown(),
    /** What the agent said in the turn that made the call: its reason, as far as it gave one. */
    reason: z.string(),
    /** The rule that asked, as a person reads it: `toolApproval.rules.1 (ask run_shell(rm:*))`. */
    rule: z.string().min(1),
    /** What "approve for this run" allows from then on. */
    grant: ToolGrantSchema,
    state: z.unknown(),
    usage: StepUsageSchema.optional(),
  })
  .strict();
export type ToolCallRequest = z.infer<typeof ToolCallRequestSchema>;

/**
 * What resumes a step that asked about a tool call: its saved state, and
 * the decision: approved, rejected, or `redecide` when a grant for the run
 * came while it waited (the call is decided again under the run's grants,
 * and asked about again if none allows it).
 */
export const ToolDecisionAllowanceSchema = z
  .object({
    callId: z.string().min(1),
    decision: z.enum(['approved', 'rejected', 'redecide']),
    /** Approve only: the arguments a person edited, which run instead of the model's. */
    input: z.unknown().optional(),
    comment: z.string().optional(),
    state: z.unknown(),
  })
  .strict();
export type ToolDecisionAllowance = z.infer<typeof ToolDecisionAllowanceSchema>;

/** SPEC: `StepOutcome.failed(taskId, agent, message)` = success false, output = message. */
export function failedOutcome(taskId: string, agent: string, message: string): StepOutcome {
  return { taskId, agent, sessionId: '', output: message, success: false, error: message };
}

/** The newest checkpoint schema this build writes and reads. */
export const WORKFLOW_CHECKPOINT_SCHEMA_VERSION = 1;

export const CheckpointStepSchema = z.object({
  taskId: nonEmpty,
  outcome: StepOutcomeSchema,
  /** The digest of the spec that produced the outcome (see workflows/lib/spec-digest); absent from older writers. */
  specDigest: z.string().optional(),
});
export type CheckpointStep = z.infer<typeof CheckpointStepSchema>;

/** A checkpointed step without its outcome: enough to know it is done, and for which spec. */
export type CheckpointStepKey = Pick<CheckpointStep, 'taskId' | 'specDigest'>;

export const WorkflowCheckpointSchema = z.object({
  schemaVersion: z.number().int().min(0),
  workflowId: z.string(),
  steps: z.array(CheckpointStepSchema),
  checkpointMs: z.number().int().min(0),
});
export type WorkflowCheckpoint = z.infer<typeof WorkflowCheckpointSchema>;

/**
 * A rerun's outcomes from the run it came from (see workflows/lib/reuse): set
 * by `tao rerun`, never by hand. A step whose task id and spec digest match an
 * entry, and which depends on nothing that ran again, takes the entry's
 * outcome instead of running. Entries with the same task id and digest (a loop's
 * rounds) are taken in order.
 */
export const ReuseSchema = z
  .object({
    fromWorkflowId: nonEmpty,
    steps: z.array(
      z
        .object({
          taskId: nonEmpty,
          specDigest: nonEmpty,
          outcome: StepOutcomeSchema,
          /** The run that produced the outcome, when not `fromWorkflowId` (a rerun of a rerun). */
          workflowId: nonEmpty.optional(),
        })
        .strict(),
    ),
  })
  .strict();
export type Reuse = z.infer<typeof ReuseSchema>;

/**
 * Per-step activity policy. Optional everywhere: the defaults suit LLM steps
 * (minutes long, flaky transport); tests and impatient users shorten them.
 */
export const StepPolicySchema = z
  .object({
    startToCloseTimeoutMs: z.number().int().positive().optional(),
    heartbeatTimeoutMs: z.number().int().positive().optional(),
    maximumAttempts: z.number().int().min(1).optional(),
    initialRetryIntervalMs: z.number().int().positive().optional(),
  })
  .strict();
export type StepPolicy = z.infer<typeof StepPolicySchema>;

const concurrency = z.number().int().min(0).optional();
/** Steps one execution may hold before the run is split (child workflows or continue-as-new); 2,000 is Temporal's pending-activity cap. */
const maxStepsPerRun = z.number().int().min(1).max(2_000).optional();
/** Set by the workflow itself: a run continued as new, or a partition started, while paused (see the `pause` update). */
const paused = z.boolean().optional();
const reuse = ReuseSchema.optional();
/** Set by the workflow itself when it continues as new: messages people sent steps that had not ended, by task id. */
const messages = z
  .record(z.string(), z.array(z.object({ seq: z.number().int().positive(), text: z.string() }).strict()))
  .optional();

/** Set by the workflow itself when it continues as new: tool calls people allowed for the rest of the run. */
const toolGrants = z.array(ToolGrantSchema).optional();

/**
 * Set by the workflow itself when it continues as new: what earlier
 * executions of the run settled, by position (a spec's index, a pipeline
 * item's), so the next one runs only the rest.
 */
const carried = <T extends z.ZodTypeAny>(outcome: T) =>
  z.array(z.object({ index: z.number().int().min(0), outcome }).strict()).optional();

/**
 * Where a run by reference reads its items (src/items): a JSONL file on a
 * path every worker sees, or a manifest blob `tao start --items` uploaded.
 */
export const ItemSourceSchema = z.union([
  z
    .object({
      jsonl: z.string().refine((path) => path.startsWith('/'), 'must be an absolute path every worker sees'),
    })
    .strict(),
  z.object({ blob: z.string().min(1) }).strict(),
]);
export type ItemSource = z.infer<typeof ItemSourceSchema>;

const itemPlace = z.number().int().min(0);

/**
 * Where the next page starts: `seq` is the next item's place. A file's
 * carries the byte offset and the number of lines before it, so a page
 * reads only its own lines; a manifest's, the page blob and the item in it.
 */
export const ItemCursorSchema = z.union([
  z.object({ seq: itemPlace, offset: itemPlace, line: itemPlace }).strict(),
  z.object({ seq: itemPlace, page: itemPlace, item: itemPlace }).strict(),
]);
export type ItemCursor = z.infer<typeof ItemCursorSchema>;

/** What a run by reference returns: counts, failed ids up to a limit, what it cost, and where its outcomes are. */
export const RunSummarySchema = z
  .object({
    total: z.number().int().min(0),
    succeeded: z.number().int().min(0),
    failed: z.number().int().min(0),
    /** The failed steps first in the source (at most 100), in source order; `tao results --failed` lists them all. */
    failedSteps: z.array(z.object({ seq: z.number().int().min(0), taskId: z.string() }).strict()),
    usage: z.object({
      inputTokens: z.number().int().min(0),
      outputTokens: z.number().int().min(0),
      costUsd: z.number().min(0),
    }),
    /** Of `succeeded`, the steps a rerun took from the run it reran (`rerunOf`) instead of running them. */
    reused: z.number().int().min(0).optional(),
    /** The outcome store's key for the run's outcomes: `tao results <run>` reads them. */
    outcomes: z.object({ run: nonEmpty }).strict(),
  })
  .strict();
export type RunSummary = z.infer<typeof RunSummarySchema>;

/** What a run by reference carries to its next execution (./workflows/lib/by-reference). */
export const ByReferenceCarrySchema = z
  .object({
    cursor: ItemCursorSchema.nullable(),
    /** The whole source was read. */
    read: z.boolean(),
    summary: RunSummarySchema,
    /** Steps (a pipeline's items) read but not started: the next execution starts them first. */
    retry: z.array(
      z.union([
        z.object({ seq: itemPlace, spec: AgentStepSpecSchema }).strict(),
        z.object({ seq: itemPlace, item: z.unknown() }).strict(),
      ]),
    ),
  })
  .strict();
export type ByReferenceCarry = z.infer<typeof ByReferenceCarrySchema>;

export const ParallelInputSchema = z
  .object({
    specs: z.array(AgentStepSpecSchema),
    concurrency,
    stepPolicy: StepPolicySchema.optional(),
    maxStepsPerRun,
    budget: BudgetSchema.optional(),
    paused,
    reuse,
    carried: carried(StepOutcomeSchema),
    /** Set by the workflow itself when it continues as new: what the budget's earlier executions spent. */
    budgetSpent: BudgetSpentSchema.optional(),
    messages,
    toolGrants,
  })
  .strict();
export type ParallelInput = z.input<typeof ParallelInputSchema>;

export const ResumableParallelInputSchema = ParallelInputSchema.extend({
  checkpointId: CheckpointIdSchema.optional(),
  /**
   * A checkpoint that exists but cannot be read: `rerun` (default, fail-safe)
   * does all the work again; `fail` runs nothing and fails every step instead.
   */
  onUnreadableCheckpoint: z.enum(['rerun', 'fail']).optional(),
  /**
   * A checkpointed step whose spec changed since: `rerun` (default) runs it
   * again, with a warning in progress; `fail` runs nothing and fails every
   * step, as a3s does on a stale result identity.
   */
  onStaleCheckpoint: z.enum(['rerun', 'fail']).optional(),
  /** Set by the workflow itself when it continues as new: steps that already failed in this run. */
  carriedFailures: z.array(StepOutcomeSchema).optional(),
  /**
   * Set by a partitioned resumable run on its children: sibling partitions
   * journal to the same checkpoint, so only the parent may delete it.
   */
  sharedCheckpoint: z.boolean().optional(),
})
  .omit({ carried: true })
  .strict();
export type ResumableParallelInput = z.input<typeof ResumableParallelInputSchema>;

/**
 * A declarative pipeline stage: the JSON form of a stage function. String
 * fields are mustache templates over `{ item, index, prev }`; `when` is a
 * condition on `prev` that ends the chain when it does not hold.
 */
/** A test of one value, found at `field`: it `equals` a value, or it does not (`notEquals`). */
const fieldCondition = (field: z.ZodString) =>
  z
    .object({ field, equals: z.unknown().optional(), notEquals: z.unknown().optional() })
    .strict()
    .refine((c) => (c.equals === undefined) !== (c.notEquals === undefined), {
      message: 'give exactly one of "equals" or "notEquals"',
    });

export const StageConditionSchema = fieldCondition(
  z.string().regex(/^prev(\.[A-Za-z0-9_]+)+$/, 'must be a path starting with "prev."'),
);
export type StageCondition = z.infer<typeof StageConditionSchema>;

/** A step spec as a template (its strings rendered per item), less the parent a delegated task has. */
export const StageTemplateSchema = AgentStepSpecSchema.omit({ parentSessionId: true }).extend({
  when: StageConditionSchema.optional(),
});
export type StageTemplate = z.output<typeof StageTemplateSchema>;

/**
 * Items decided at run time (LangGraph's `Send`, declared): `step` runs
 * first, and each element of the list at `forEach` in its structured output
 * (e.g. `structured.files`) becomes an item of the pipeline. A list that is absent
 * or empty runs no chain; one longer than `maxItems` fails the run, naming it.
 */
export const PipelinePlanSchema = z
  .object({
    step: AgentStepSpecSchema,
    forEach: z
      .string()
      .regex(/^structured(\.[^.]+)*$/, 'a path into the step\'s structured output, e.g. "structured.files"'),
    maxItems: z.number().int().min(1).max(100_000).optional(),
  })
  .strict();
export type PipelinePlan = z.infer<typeof PipelinePlanSchema>;

export const PipelineInputSchema = z
  .object({
    /** The items, or none with `plan`, which decides them at run time. */
    items: z.array(z.unknown()).optional(),
    plan: PipelinePlanSchema.optional(),
    stages: z.array(StageTemplateSchema).min(1, 'a pipeline needs at least one stage'),
    concurrency,
    stepPolicy: StepPolicySchema.optional(),
    maxStepsPerRun,
    budget: BudgetSchema.optional(),
    /** Set for a partition's child: the whole run's index of its first item, for `{{index}}`. */
    indexOffset: z.number().int().min(0).optional(),
    paused,
    reuse,
    carried: carried(StepOutcomeSchema.nullable()),
    budgetSpent: BudgetSpentSchema.optional(),
    messages,
    toolGrants,
  })
  .strict()
  .refine((input) => (input.items === undefined) !== (input.plan === undefined), {
    message: 'give either "items" or a "plan" that decides them, not both or neither',
    path: ['items'],
  });
export type PipelineInput = z.input<typeof PipelineInputSchema>;

/**
 * A parallel run (or, with `stages`, a pipeline) by reference: its items are
 * `source`, read a page at a time, and its outcomes go to the outcome store;
 * the run returns a {@link RunSummary}. A budget binds the whole run, every execution of it:
 * once spent, the steps still to read fail (or wait, with `onExhausted:
 * wait`) without running. A step a person approves after keeps its output
 * in the workflow until they decide. A run without a budget whose limit is
 * more than one execution keeps in flight splits its source into ranges, a
 * child run each.
 */
export const BatchInputSchema = z
  .object({
    source: ItemSourceSchema,
    /**
     * A pipeline by reference: the source's items are any JSON, each run
     * through these stages as a chain (`{{item}}`, `{{index}}`: its place,
     * `{{prev.output}}`); an item's outcome is its chain's last, as a
     * pipeline's result is. Without them, each item is a step's spec.
     */
    stages: z.array(StageTemplateSchema).min(1).optional(),
    concurrency,
    stepPolicy: StepPolicySchema.optional(),
    budget: BudgetSchema.optional(),
    /** Set by the workflow itself when it continues as new: what the budget's earlier executions spent. */
    budgetSpent: BudgetSpentSchema.optional(),
    /**
     * `tao rerun`: the run whose kept outcomes this one may take, for a
     * succeeded step at the same place with the same task id and spec (never
     * one with an approval); the rest run. Its outcomes are only read.
     */
    rerunOf: nonEmpty.optional(),
    /**
     * Set by a split run for each child: the `count` items from `from` it
     * runs, and the run (`of`, the parent) whose outcomes they are.
     */
    part: z
      .object({ of: nonEmpty, from: ItemCursorSchema.nullable(), count: z.number().int().min(1) })
      .strict()
      .optional(),
    paused,
    messages,
    toolGrants,
    carried: ByReferenceCarrySchema.optional(),
  })
  .strict();
export type BatchInput = z.input<typeof BatchInputSchema>;

/** A test on one outcome's field: `success`, `output`, `error`, `taskId`, `agent` or `structured.<path>`. */
export const OutcomeConditionSchema = fieldCondition(
  z
    .string()
    .regex(
      /^(success|output|error|taskId|agent|structured(\.[A-Za-z0-9_]+)*)$/,
      'must be success, output, error, taskId, agent or structured.<path>',
    ),
);
export type OutcomeCondition = z.infer<typeof OutcomeConditionSchema>;

/** When a loop stops: after a round whose outcomes `every` or `some` pass the test. */
export const RoundConditionSchema = z
  .object({ every: OutcomeConditionSchema.optional(), some: OutcomeConditionSchema.optional() })
  .strict()
  .refine((c) => (c.every === undefined) !== (c.some === undefined), {
    message: 'give exactly one of "every" or "some"',
  });
export type RoundCondition = z.infer<typeof RoundConditionSchema>;

/**
 * The loop as JSON: rounds of the barrier. `initial` is round 1; `next.specs`
 * are templates (mustache, over `{ round, outcomes }`, the previous round's
 * outcomes in order) for each round after; `until` stops the loop after a
 * round that meets it; `maxIterations` is the hard cap on rounds.
 */
export const LoopInputSchema = z
  .object({
    initial: z.array(AgentStepSpecSchema),
    maxIterations: z.number().int().min(1),
    next: z
      .object({ specs: z.array(StageTemplateSchema.omit({ when: true })).min(1) })
      .strict()
      .optional(),
    until: RoundConditionSchema.optional(),
    concurrency,
    stepPolicy: StepPolicySchema.optional(),
    budget: BudgetSchema.optional(),
    /** Rounds one execution runs at most before it continues as new; it continues sooner when its history fills. */
    roundsPerRun: z.number().int().min(1).optional(),
    /** Set by the workflow itself when it continues as new: the number of the first round it runs. */
    round: z.number().int().min(1).optional(),
    paused,
    budgetSpent: BudgetSpentSchema.optional(),
    reuse,
    toolGrants,
  })
  .strict();
export type LoopInput = z.input<typeof LoopInputSchema>;

/** Names the first bad field of a failed parse, e.g. `specs.1.taskId: must be a non-empty string`. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}
