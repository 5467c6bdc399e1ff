import type {
  AgentStepSpec,
  AnswerAllowance,
  DelegationAllowance,
  DelegationRequest,
  QuestionRequest,
  StepCache,
  StepOutcome,
  StepMessage,
  ToolCallRequest,
  ToolDecisionAllowance,
  ToolGrant,
} from '../contracts';
import type { StepEvents } from '../transcripts/events';

/** What the activity hands an executor for one attempt of one step. */
export interface StepContext {
  /** Aborted when Temporal cancels the activity (workflow cancelled, timed out, worker shutting down). */
  readonly signal: AbortSignal;
  /** Tell Temporal the step is alive; `details` shows as the activity's heartbeat details. */
  heartbeat(details?: unknown): void;
  /** 1 on the first attempt, 2 on the first retry, ... */
  readonly attempt: number;
  readonly workflowId: string;
  /**
   * What an earlier attempt of this step last passed to {@link saveState}, when
   * this attempt is a retry of one that got that far; unvalidated (an executor
   * checks it is its own and ignores it otherwise).
   */
  readonly resumeState?: unknown;
  /**
   * Model tokens the run's budget has left, when it has a token budget: an
   * executor that calls models stops before a call past it (a soft cap).
   */
  readonly tokensLeft?: number;
  /**
   * Present when the workflow runs delegated tasks: an executor may then end
   * the attempt with `{ delegation }` instead of an outcome, and is run again
   * with `delegation.resume` once the tasks ended. Without it, it must not.
   */
  readonly delegation?: DelegationAllowance;
  /**
   * The answer to the question this step's last attempt ended with (`{
   * question }`, an llm agent's `ask_user`): the attempt resumes from its
   * state with the answer as the call's result.
   */
  readonly answer?: AnswerAllowance;
  /**
   * The decision on the tool call this step's last attempt asked about (`{
   * toolCall }`): the attempt resumes from its state, runs the call (with the
   * edited arguments, if any) or tells the model it was rejected.
   */
  readonly toolDecision?: ToolDecisionAllowance;
  /** Calls people allowed for the whole run: they turn an `ask` rule's verdict into an allow, never a deny's. */
  readonly toolGrants?: readonly ToolGrant[];
  /**
   * The worker traces content (`--trace-content`): spans the executor makes
   * may carry prompts, answers and tool input and output, scrubbed of the
   * secrets it knows. Without it they carry identities and counts only.
   */
  readonly traceContent?: boolean;
  /**
   * Saves the step's state so that a retry (worker crash, heartbeat timeout,
   * transient error) can go on from here instead of from the start. It is
   * written to the worker's checkpoint store under a key of this step's own,
   * and also travels in the activity's heartbeat details (through the data
   * converter, so encrypted and offloaded like any payload); neither adds
   * history events. Resolves once the store holds it: an executor awaits
   * that before its next side effect, so a crash never loses a state whose
   * effects have begun. Rejects when the store cannot take it, or when a
   * later attempt of the step has taken over; the executor then stops.
   */
  saveState(state: unknown): Promise<void>;
  /**
   * The step's latest output so far (streamed model text, a program's stdout),
   * for live views: the tail is kept in the heartbeat details, which the Web UI,
   * `temporal workflow describe` and `tao status --follow` show while it runs.
   */
  output(textSoFar: string): void;
  /**
   * The step got somewhere it has nothing to show for: a streamed fragment of
   * a tool call, a line on a program's stderr. The worker gives up on an
   * attempt whose executor calls none of `output`, `heartbeat`, `saveState`
   * and this for its stall limit (src/activities/stall-watchdog.ts), so an
   * executor calls it whenever work arrives that the others do not report.
   * Absent where nothing watches (an executor's own tests).
   */
  progress?(): void;
  /**
   * Where the step's transcript goes (src/transcripts/events.ts): turns, text,
   * tool calls, usage. Absent when the worker's store keeps no transcripts.
   * The llm executor reports to it; the command and script executors do not,
   * so their steps keep none (their output is in the outcome and the heartbeat).
   */
  readonly events?: StepEvents;
  /**
   * The messages people sent this step (`tao say`) numbered after `after`, in
   * order. An executor that declares {@link AgentExecutor.acceptsMessages}
   * asks before each model call, keeps the number of the last it took with
   * the state it saves, and gives each to its agent once. Absent where no run
   * can send any (an executor's own tests).
   */
  messages?(after: number): Promise<StepMessage[]>;
}

/**
 * What an attempt ends with: the step's outcome, or what it hands the
 * workflow to go on from: the tasks it delegated (see {@link
 * StepContext.delegation}), a question for a person, or a tool call for a
 * person to decide.
 */
export type ExecutorResult =
  | StepOutcome
  | { delegation: DelegationRequest }
  | { question: QuestionRequest }
  | { toolCall: ToolCallRequest };

/**
 * The one seam to the agent runtime (SPEC: `AgentExecutor`). Where and how a
 * step runs is the executor's business; the combinators only see outcomes.
 *
 * Failure contract: a step that ran but did not achieve its task returns
 * `success: false`. Throwing means the executor itself failed: a plain Error is
 * treated as transient and retried under the step policy; a
 * {@link RetryableStepError} is too, and may name when to retry; a
 * {@link NonRetryableStepError} is not retried.
 */
export interface AgentExecutor {
  executeStep(spec: AgentStepSpec, context: StepContext): Promise<ExecutorResult>;
  concurrencyHint(): number;
  /**
   * What besides the spec decides a step's work here, for the step cache's
   * key (src/activities/step-cache.ts): the agent's profile, its model, and
   * the executor's config, as JSON. Never a secret: a key must not change
   * when one is rotated. Without one, the executor's class stands for all three.
   */
  cacheIdentity?(spec: AgentStepSpec): StepCacheIdentity | undefined;
  /**
   * How long this step may show no progress before its attempt is retried,
   * when the executor's config says (a program that prints only at its end);
   * the spec's own limit wins, and without either the worker's applies.
   */
  stallTimeoutMs?(spec: AgentStepSpec): number | undefined;
  /** Agents whose profile opts every step into the step cache, with its settings (a spec's own `cache` wins). */
  agentCaches?(): Record<string, StepCache>;
  /** Its steps read messages sent while they run ({@link StepContext.messages}); without it, a run refuses them. */
  readonly acceptsMessages?: boolean;
  /** Releases what the executor keeps across steps (MCP servers); called once the worker has stopped. */
  close?(): Promise<void>;
}

export interface StepCacheIdentity {
  profile?: unknown;
  model?: string;
  config?: unknown;
}

/** The agents among `agents` (profiles, script rules) that set `cache`, with it. */
export function agentCachesOf(agents: Record<string, { cache?: StepCache }>): Record<string, StepCache> {
  return Object.fromEntries(
    Object.entries(agents).flatMap(([agent, { cache }]) => (cache ? [[agent, cache]] : [])),
  );
}

/** The executor crashed in a way a retry cannot fix (bad config, a scripted `throw`, auth). */
export class NonRetryableStepError extends Error {
  override readonly name = 'NonRetryableStepError';
}

/**
 * A transient failure (rate limit, overloaded or unreachable service) that
 * says when to try again, e.g. from a `Retry-After` header. Temporal still
 * owns the retry: the delay replaces the policy's backoff for the next attempt
 * only, and `maximumAttempts` still bounds the step.
 */
export class RetryableStepError extends Error {
  override readonly name = 'RetryableStepError';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}
