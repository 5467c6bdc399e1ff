/**
 * One step's path through the run (see runStep): small stages, each of which
 * may settle the step, in the order a step meets them.
 */
import { CancellationScope, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { StepAllowance, StepRun, TaoActivities } from '../../activity-api';
import {
  type AgentStepSpec,
  type DelegationAllowance,
  type QuestionRequest,
  type StepOutcome,
  type StepUsage,
  type ToolCallRequest,
  failedOutcome,
} from '../../contracts';
import { answerQuestion, approveAfter, approveBefore, approveOverBudget } from './approvals';
import { CANCELLED_BY_USER, cancelledAlone } from './controls';
import { type StepPlace, TOP_LEVEL, runDelegated } from './delegation';
import { StepCrashed, describeActivityFailure } from './inputs';
import type { DecisionKind, StepProgress } from './progress';
import type { Grant, Priority, Want } from './slots';
import type { StepCall } from './step-call';

// A lookup reads one entry; a store that cannot answer is a miss, so retries only cover a lost worker.
const { lookupStepCache } = proxyActivities<TaoActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});

/** Where a step runs: its place in a delegation tree and in the run's order, and what may happen to it. */
export interface StepAt {
  place: StepPlace;
  priority: Priority;
  /** A rerun may hand it the outcome of the run it came from (./reuse). */
  reusable: boolean;
  /** It may be left to the next execution when this one's history admits no new step (./history). */
  deferrable: boolean;
  /**
   * `false`: in a run by reference, the workflow needs this step's output (a
   * pipeline stage a later one renders from), so its activity keeps the
   * outcome in history rather than in the outcome store.
   */
  keeps?: false;
}

export const topLevel = (index: number, reusable = true, deferrable = true): StepAt => ({
  place: TOP_LEVEL,
  priority: [index],
  reusable,
  deferrable,
});

/** What {@link runStep} returns for a step this execution did not start: the next one runs it. */
export const DEFERRED = { deferred: true } as const;
export type Deferred = typeof DEFERRED;
export const isDeferred = (value: unknown): value is Deferred => value === DEFERRED;

/**
 * Runs one step through its stages, each of which may settle it: the outcome
 * a rerun reuses, the step cache, the approval before, the run's pause and
 * `cancelStep`, the attempts (budget, slot, activity, delegated tasks), and
 * the approval after. Its progress entry is kept current throughout.
 *
 * Returns the step's outcome (failed when it was rejected, cancelled alone,
 * or refused by the budget), {@link DEFERRED} when this execution's history
 * took no new step, or throws {@link StepCrashed} when its activity failed
 * after its retries. `cancelStep` cancels the step's own scope, which its
 * delegated tasks run in too.
 */
export async function runStep(
  call: StepCall,
  spec: AgentStepSpec,
  entry: StepProgress,
  at: StepAt,
): Promise<StepOutcome | Deferred> {
  const reused = reusedOutcome(call, spec, entry, at);
  if (reused) return reused;
  const cache = cacheOf(call, spec);
  if (cache) {
    const cached = await cachedOutcome({ ...spec, cache }, entry);
    if (cached) return cached;
  }
  let deferrable = at.deferrable;
  if (spec.approval?.before) {
    const rejected = await decideBefore(call, spec, entry);
    if (rejected) return settled(entry, rejected);
    // A person let it start in this execution: it is not left to the next.
    deferrable = false;
  }
  // The slot comes before anything else the step builds: a delegated task queued for one costs a promise, not a chain.
  const first = { ...at, deferrable };
  const start = startNow(call, spec, first) ?? (await startFirst(call, spec, entry, first));
  if (start !== 'granted') return isDeferred(start) ? start : settled(entry, start);
  return concluded(call, spec, entry, await attempts(call, spec, entry, at));
}

/**
 * {@link runStep} for a step that queued for its first slot before anything
 * else of it was built (./pool settleQueued) and is now granted it, from the
 * slots' dispatch: it runs in `scope`, the one it queued in, not the
 * dispatch's. A step with a stage before its slot (reuse, cache, approval
 * before) or one the slot's own checks must see (budget, `cancelStep`) gives
 * the slot back and takes the whole path.
 */
export function runQueuedStep(
  call: StepCall,
  spec: AgentStepSpec,
  entry: StepProgress,
  at: StepAt,
  grant: Grant,
  scope: CancellationScope,
): Promise<StepOutcome | Deferred> {
  if (grant === 'deferred') return Promise.resolve(DEFERRED);
  if (grant === 'withdrawn') return Promise.resolve(settled(entry, cancelledByUser(spec)));
  const { budget, controls } = call.context;
  if (!queuesPlain(call, spec, at) || budget.active || controls.cancelledBeforeStart(spec.taskId)) {
    call.slots.release();
    return scope.run(() => runStep(call, spec, entry, at));
  }
  started(call, at);
  return attempts(call, spec, entry, at, scope).then((ran) => concluded(call, spec, entry, ran));
}

/** Whether `spec` runs as a queued step from the start: it has nothing to do before its slot. */
export function queuesPlain(call: StepCall, spec: AgentStepSpec, at: StepAt): boolean {
  return !(at.reusable && call.context.reuse) && !spec.approval?.before && !cacheOf(call, spec);
}

/** The step's cache settings: its own, else its agent profile's; none with an approval. */
const cacheOf = (call: StepCall, spec: AgentStepSpec) =>
  spec.approval ? undefined : (spec.cache ?? call.agentCaches[spec.agent]);

/** The step's outcome after its attempts, through the approval after when it has one. */
function concluded(
  call: StepCall,
  spec: AgentStepSpec,
  entry: StepProgress,
  ran: { outcome: StepOutcome; attempt?: number },
): StepOutcome | Promise<StepOutcome> {
  if (ran.attempt !== undefined) entry.attempt = ran.attempt;
  if (ran.outcome.usage) entry.usage = ran.outcome.usage;
  if (!spec.approval?.after || !ran.outcome.success) return settled(entry, ran.outcome);
  return decideAfter(call, spec, entry, ran.outcome);
}

async function decideAfter(
  call: StepCall,
  spec: AgentStepSpec,
  entry: StepProgress,
  outcome: StepOutcome,
): Promise<StepOutcome> {
  Object.assign(entry, { status: 'waiting', decision: 'after' });
  const decided = await approveAfter(call.context.approvals, spec, outcome);
  delete entry.decision;
  return settled(entry, decided);
}

/** The outcome a rerun takes from the run it came from, for a top-level step. */
function reusedOutcome(
  call: StepCall,
  spec: AgentStepSpec,
  entry: StepProgress,
  at: StepAt,
): StepOutcome | undefined {
  const reused = at.reusable && at.place === TOP_LEVEL ? call.context.reuse?.take(spec) : undefined;
  if (!reused) return undefined;
  Object.assign(entry, { status: 'reused', reusedFrom: reused.workflowId });
  return reused.outcome;
}

/**
 * A step with `cache` (its own, else its agent profile's) and no approval
 * looks for its outcome across runs; a step without issues no lookup.
 */
async function cachedOutcome(spec: AgentStepSpec, entry: StepProgress): Promise<StepOutcome | undefined> {
  const cached = await lookupStepCache(spec);
  if (!cached) return undefined;
  Object.assign(entry, { status: 'cached', cachedFrom: cached.workflowId });
  return cached.outcome;
}

/** The approval before: undefined to go on, else the step's rejected outcome. */
async function decideBefore(
  call: StepCall,
  spec: AgentStepSpec,
  entry: StepProgress,
): Promise<StepOutcome | undefined> {
  Object.assign(entry, { status: 'waiting', decision: 'before' });
  const rejected = await approveBefore(call.context.approvals, spec);
  delete entry.decision;
  if (!rejected) entry.status = 'pending';
  return rejected;
}

/**
 * The step's attempts, holding the slot {@link startFirst} took, in a
 * cancellation scope of its own (`cancelStep` cancels it, and the step's
 * tasks with it): the first, then, while it delegates, its tasks
 * (./delegation) and the attempt that goes on from them. The budget counts
 * the step once and charges each attempt's spend as it comes. Returns the
 * last run's outcome, or a failed one when `cancelStep` ended it.
 */
async function attempts(
  call: StepCall,
  spec: AgentStepSpec,
  entry: StepProgress,
  at: StepAt,
  parent = CancellationScope.current(),
): Promise<{ outcome: StepOutcome; attempt?: number }> {
  const { controls } = call.context;
  const scope = new CancellationScope({ parent, cancellable: true });
  controls.enter(spec.taskId, scope);
  try {
    return await scope.run(() => attemptsInScope(call, spec, entry, at));
  } catch (error) {
    if (cancelledAlone(scope)) return { outcome: cancelledByUser(spec) };
    throw error;
  } finally {
    controls.leave(spec.taskId);
    if (at.place === TOP_LEVEL) {
      call.running -= 1;
      call.admission.stepSettled();
    }
  }
}

async function attemptsInScope(
  call: StepCall,
  spec: AgentStepSpec,
  entry: StepProgress,
  at: StepAt,
): Promise<Extract<StepRun, { outcome: StepOutcome }>> {
  const { budget } = call.context;
  let run: StepRun;
  let allowance = stepAllowance(call, spec, at, undefined);
  try {
    run = await runActivity(call, spec, entry, at.place, allowance);
  } finally {
    // A step whose tasks run holds no budget place: its tasks must not wait on it.
    if (budget.active) budget.leave();
  }
  let charged = budget.charge(undefined, usageOf(run));
  for (let asked = 0; !('outcome' in run);) {
    let next: StepAllowance;
    if ('delegation' in run) {
      const request = run.delegation;
      const results = await runDelegated(call, spec, request, at, asked, runQueuedStep);
      asked += request.calls.length;
      next = stepAllowance(call, spec, at, { state: request.state, results });
    } else {
      const decided = await ('question' in run
        ? waitForAnswer(call, spec, entry, run.question)
        : waitForToolDecision(call, spec, entry, run.toolCall, allowance.toolGrants?.length ?? 0));
      if ('failed' in decided) {
        return { outcome: failedOutcome(spec.taskId, spec.agent, decided.failed), attempt: run.attempt };
      }
      next = { ...stepAllowance(call, spec, at, undefined), ...decided };
    }
    const taken = call.slots.take({
      taskId: spec.taskId,
      priority: at.priority,
      first: false,
      deferrable: false,
    });
    if (typeof taken !== 'string') await taken;
    allowance = next;
    run = await runActivity(call, spec, entry, at.place, next);
    charged = budget.charge(charged, usageOf(run));
  }
  return run as Extract<StepRun, { outcome: StepOutcome }>;
}

/** {@link startFirst} without a promise, when a slot is free now and no budget or cancellation is in play. */
function startNow(call: StepCall, spec: AgentStepSpec, at: StepAt): 'granted' | Deferred | undefined {
  const { budget, controls } = call.context;
  if (budget.active || controls.cancelledBeforeStart(spec.taskId)) return undefined;
  const grant = call.slots.tryTake(firstActivity(spec, at));
  if (grant === 'deferred') return DEFERRED;
  return grant === 'granted' ? started(call, at) : undefined;
}

/** What a step's first activity asks of the run's slots. */
export const firstActivity = (spec: AgentStepSpec, at: StepAt): Want => ({
  taskId: spec.taskId,
  priority: at.priority,
  first: true,
  deferrable: at.deferrable,
});

/** The step holds its slot: a top-level one counts as in flight for the history's admission. */
function started(call: StepCall, at: StepAt): 'granted' {
  if (at.place === TOP_LEVEL) call.running += 1;
  return 'granted';
}

/**
 * A slot for the step's first activity, under the run's pause, `cancelStep`
 * and budget: a step that finds the budget spent gives its slot back while it
 * waits (./budget), then asks again. Only a deferrable step can be deferred:
 * a step that ran, or whose tasks ran, finishes in this execution. Returns
 * `granted` (the step then holds the slot and counts as running), DEFERRED,
 * or the step's failed outcome.
 */
async function startFirst(
  call: StepCall,
  spec: AgentStepSpec,
  entry: StepProgress,
  at: StepAt,
): Promise<'granted' | Deferred | StepOutcome> {
  const { budget, controls } = call.context;
  const want = firstActivity(spec, at);
  for (let over = false; ;) {
    if (controls.cancelledBeforeStart(spec.taskId)) return cancelledByUser(spec);
    const taken = call.slots.take(want);
    const grant = typeof taken === 'string' ? taken : await taken;
    if (grant === 'deferred') return DEFERRED;
    if (grant === 'withdrawn') return cancelledByUser(spec);
    if (controls.cancelledBeforeStart(spec.taskId)) {
      call.slots.release();
      return cancelledByUser(spec);
    }
    const why = budget.active && !over ? budget.exhausted() : undefined;
    if (why === undefined) break;
    call.slots.release();
    const settled = await budget.settle(why, (reason) => overBudget(call, spec, entry, reason));
    if (typeof settled === 'object') return failedOutcome(spec.taskId, spec.agent, settled.refused);
    over = settled === 'over';
  }
  if (budget.active) budget.begin();
  return started(call, at);
}

/** A step waiting on a spent budget shows as a pending decision until it is decided or the limit raised. */
async function overBudget(
  call: StepCall,
  spec: AgentStepSpec,
  entry: StepProgress,
  why: string,
): Promise<string | undefined> {
  Object.assign(entry, { status: 'waiting', decision: 'budget', error: why });
  const { approvals, budget } = call.context;
  const rejected = await approveOverBudget(approvals, spec, why, () => budget.exhausted() !== undefined);
  delete entry.decision;
  delete entry.error;
  entry.status = 'pending';
  return rejected;
}

/** Adds an attempt's running time to the step's, when the attempt reported it. */
function ranFor(entry: StepProgress, run: StepRun): void {
  if (run.durationMs !== undefined) entry.durationMs = (entry.durationMs ?? 0) + run.durationMs;
}

/** The step's final status from its outcome. */
function settled(entry: StepProgress, outcome: StepOutcome): StepOutcome {
  entry.status = outcome.success ? 'succeeded' : 'failed';
  if (!outcome.success) entry.error = outcome.error ?? outcome.output;
  return outcome;
}

/** What the workflow tells an attempt: the budget's tokens left, and delegation at the step's depth. */
function stepAllowance(
  call: StepCall,
  spec: AgentStepSpec,
  { place, priority, keeps }: StepAt,
  resume: DelegationAllowance['resume'] | undefined,
): StepAllowance {
  const tokensLeft = call.context.budget.tokensLeft();
  const { toolGrants } = call.context;
  // A run by reference keeps a top-level step's outcome at its place in the source: its priority's first part.
  // Not one a person approves after: the decision is on its output, so the workflow holds it until then.
  const keep =
    call.keepsOutcomes && place === TOP_LEVEL && keeps !== false && !spec.approval?.after
      ? { run: call.keepsOutcomes, seq: priority[0]! }
      : undefined;
  return {
    ...(tokensLeft !== undefined ? { tokensLeft } : {}),
    ...(toolGrants.count > 0 ? { toolGrants: toolGrants.all() } : {}),
    ...(keep ? { keep } : {}),
    delegation: {
      depth: place.depth,
      ...(place.maxDepth !== undefined ? { maxDepth: place.maxDepth } : {}),
      ...(resume ? { resume } : {}),
    },
  };
}

function usageOf(run: StepRun): StepUsage | undefined {
  if ('outcome' in run) return run.outcome.usage;
  if ('delegation' in run) return run.delegation.usage;
  return 'question' in run ? run.question.usage : run.toolCall.usage;
}

/** A step whose agent asked a question waits, holding no slot, as a decision of kind `question`. */
async function waitForAnswer(
  call: StepCall,
  spec: AgentStepSpec,
  entry: StepProgress,
  question: QuestionRequest,
): Promise<Pick<StepAllowance, 'answer'> | { failed: string }> {
  const answered = await waiting(entry, 'question', () =>
    answerQuestion(call.context.approvals, spec, question),
  );
  if ('failed' in answered) return answered;
  return { answer: { callId: question.callId, text: answered.answer, state: question.state } };
}

/**
 * A step whose agent made a tool call an `ask` rule matched waits, holding
 * no slot, as a decision of kind `tool`. An approval for the run adds the
 * request's grant to the run's, for every step's next attempts. A call made
 * under fewer grants than the run has now (`given`: those its attempt was
 * given), at once or once one comes while it waits, is decided again.
 */
async function waitForToolDecision(
  call: StepCall,
  spec: AgentStepSpec,
  entry: StepProgress,
  request: ToolCallRequest,
  given: number,
): Promise<Pick<StepAllowance, 'toolDecision'>> {
  const { approvals, toolGrants } = call.context;
  const { callId, state } = request;
  const redecide = { toolDecision: { callId, decision: 'redecide' as const, state } };
  if (toolGrants.count > given) return redecide;
  const verdict = await waiting(entry, 'tool', () =>
    approvals.askAboutTool(spec, request, () => toolGrants.count > given),
  );
  if (!verdict) return redecide;
  if (verdict.approved && verdict.forRun) call.context.grantTool(request.grant);
  const { approved, input, comment } = verdict;
  return {
    toolDecision: {
      callId,
      decision: approved ? 'approved' : 'rejected',
      state,
      ...(input !== undefined ? { input } : {}),
      ...(comment !== undefined ? { comment } : {}),
    },
  };
}

/** The step shows as waiting for a decision of `kind` while `wait` runs, and as pending after it. */
async function waiting<T>(entry: StepProgress, kind: DecisionKind, wait: () => Promise<T>): Promise<T> {
  Object.assign(entry, { status: 'waiting', decision: kind });
  const decided = await wait();
  delete entry.decision;
  entry.status = 'pending';
  return decided;
}

/**
 * The step's activity, holding the slot it was granted until it settles. The
 * summary names the step in the Web UI's timeline and event history, where
 * the activity type alone does not; an attempt after its children ran says so.
 */
function runActivity(
  call: StepCall,
  spec: AgentStepSpec,
  entry: StepProgress,
  place: StepPlace,
  allowance: StepAllowance,
): Promise<StepRun> {
  entry.status = 'running';
  const resumed = allowance.delegation?.resume
    ? ' (resumed after its tasks)'
    : allowance.answer
      ? ' (resumed with its answer)'
      : allowance.toolDecision
        ? ` (resumed, tool call ${TOOL_DECIDED[allowance.toolDecision.decision]})`
        : '';
  const summary = stepSummary(spec, place, resumed);
  // Released in the handlers this path has anyway: a promise more per step is run time the baseline bench sees.
  return call.activities.executeAgentStep.executeWithOptions({ summary }, [spec, allowance]).then(
    (run) => {
      call.slots.release();
      ranFor(entry, run);
      return run;
    },
    (error: unknown) => {
      call.slots.release();
      if (isCancellation(error)) throw error;
      const { message, attempt } = describeActivityFailure(error);
      Object.assign(entry, { status: 'failed', error: message, attempt });
      throw new StepCrashed(message);
    },
  );
}

function cancelledByUser(spec: AgentStepSpec): StepOutcome {
  return failedOutcome(spec.taskId, spec.agent, CANCELLED_BY_USER);
}

const SUMMARY_CHARS = 200;

const TOOL_DECIDED = { approved: 'approved', rejected: 'rejected', redecide: 'decided again' } as const;

/**
 * `review:src/a.ts · review`, with `· task of <parent>` for a delegated task
 * and `(resumed after its tasks)` / `(resumed with its answer)` / `(resumed,
 * tool call approved)` for an attempt after a step's tasks, a person's
 * answer or a decision on its tool call: one line, as the Web UI
 * shows it.
 */
function stepSummary(spec: AgentStepSpec, place: StepPlace, resumed: string): string {
  const parent = place.parentTaskId !== undefined ? ` · task of ${place.parentTaskId}` : '';
  const line = `${spec.taskId} · ${spec.agent}${parent}${resumed}`.replace(/\s+/g, ' ');
  return line.length > SUMMARY_CHARS ? `${line.slice(0, SUMMARY_CHARS - 1)}…` : line;
}
