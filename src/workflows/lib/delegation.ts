/**
 * Tasks a step delegates (an llm agent's `task` and `parallel_task` tools; see
 * `DelegationRequestSchema`): workflow code runs each as a child step of the
 * same run, through the same path as every other step (pause, budget,
 * `cancelStep`, progress), and hands their outcomes back to the parent, whose
 * activity then goes on from its tool call.
 *
 * A child's task id is `<parent>/task-<n>-<k>`: the k-th task of the parent's
 * n-th delegating call, counted over the parent's life, so it is the same on
 * every replay and retry. A child runs in a pool nested in its parent's lane,
 * so cancelling the parent (or the run) cancels its children, while
 * `cancelStep` on one child ends only that child, as "cancelled by user".
 */
import {
  type AgentStepSpec,
  type DelegationRequest,
  type DelegationResult,
  type StepOutcome,
  failedOutcome,
} from '../../contracts';
import { patched } from '@temporalio/workflow';
import { runControls, waitFor } from './controls';
import { clampLimit, runBounded } from './pool';
import { type StepProgress, progressBoard, settledOutcome } from './progress';

/** Where a step stands in a delegation tree: its depth and the bound its parent set. */
export interface StepPlace {
  depth: number;
  maxDepth?: number;
  /** The step that delegated this one, for a child. */
  parentTaskId?: string;
}

export const TOP_LEVEL: StepPlace = { depth: 0 };

/** A backstop against configs that disagree across workers: no tree grows deeper than this. */
export const MAX_DELEGATION_DEPTH = 8;

let childLimit = 1;

/** Children of one call run at most the run's limit at a time (or `setConcurrency`'s, once set). */
export function setDelegationLimit(limit: number): void {
  childLimit = limit;
}

let inFlight = 0;

/**
 * Runs `attempt`, which starts one activity of a step (holding a slot from
 * {@link holdSlot} until it settles), once the run has room for it under its
 * limit. Top-level lanes never hold more activities than the limit, but each
 * delegating parent's children had the limit to themselves, so a run at a
 * limit of 2 with two parents delegating ran four at once. Only an activity in
 * flight holds a slot, never a parent waiting for its children, so no parent
 * can wait on a slot its own children need. Patched where it makes a step
 * wait: runs started before let children past the limit.
 */
export function withRunSlot<T>(attempt: () => Promise<T>): Promise<T> {
  return full() && patched('tao-run-slots') ? nextSlot(attempt) : attempt();
}

/** Counts one activity in flight; call what it returns once the activity settled. */
export function holdSlot(): () => void {
  inFlight += 1;
  return () => void (inFlight -= 1);
}

const full = () => inFlight >= clampLimit(runControls().concurrency ?? childLimit);

async function nextSlot<T>(attempt: () => Promise<T>): Promise<T> {
  // Every waiter wakes when a slot frees; the first to go on takes it, the others wait again.
  while (full()) await waitFor(() => !full());
  return attempt();
}

/**
 * Where a resumable run keeps its children (./resumable): a child recorded
 * for the same spec in an earlier execution is served, not run again, and
 * each child that succeeds is recorded under its task id.
 */
export interface ChildJournal {
  served(children: readonly AgentStepSpec[]): Promise<Map<string, StepOutcome>>;
  record(child: AgentStepSpec, outcome: StepOutcome): void;
}

let journal: ChildJournal | undefined;

export function journalChildren(childJournal: ChildJournal): void {
  journal = childJournal;
}

export type RunChild = (spec: AgentStepSpec, entry: StepProgress, place: StepPlace) => Promise<StepOutcome>;

/**
 * Runs the tasks of `request` as children of `parent` (its calls numbered
 * from `asked + 1`) and returns one result per call, in order. A child that
 * crashed becomes a failed outcome, so the parent always hears of every task.
 */
export async function runDelegated(
  parent: AgentStepSpec,
  request: DelegationRequest,
  place: StepPlace,
  asked: number,
  runChild: RunChild,
): Promise<DelegationResult[]> {
  const board = progressBoard();
  const depth = place.depth + 1;
  const childPlace: StepPlace = { depth, maxDepth: request.maxDepth, parentTaskId: parent.taskId };
  const calls = request.calls.map((call, c) => {
    const children = call.tasks.map((task, k) => childSpec(parent, task, asked + c + 1, k + 1));
    return { call, children, refusal: refusal(children, depth) };
  });
  const accepted = calls.flatMap(({ children, refusal }) => (refusal ? [] : children));
  const outcomes = journal ? await journal.served(accepted) : new Map<string, StepOutcome>();
  const lineage = { parentTaskId: parent.taskId, depth };
  for (const spec of accepted) {
    if (outcomes.has(spec.taskId)) Object.assign(board.addStep(spec, 'cached'), lineage);
  }
  const runnable = accepted.filter((spec) => !outcomes.has(spec.taskId));
  const entries = runnable.map((spec) => Object.assign(board.addStep(spec, 'pending'), lineage));
  const settled = await runBounded(runnable, childLimit, async (spec, index) => {
    const outcome = await runChild(spec, entries[index]!, childPlace);
    if (outcome.success) journal?.record(spec, outcome);
    return outcome;
  });
  settled.forEach((result, index) => {
    const spec = runnable[index]!;
    outcomes.set(spec.taskId, settledOutcome(result, spec, entries[index]!));
  });
  return calls.map(({ call, children, refusal }) => ({
    callId: call.callId,
    outcomes: children.map(
      (spec) => outcomes.get(spec.taskId) ?? failedOutcome(spec.taskId, spec.agent, refusal!),
    ),
  }));
}

function childSpec(
  parent: AgentStepSpec,
  task: DelegationRequest['calls'][number]['tasks'][number],
  call: number,
  index: number,
): AgentStepSpec {
  return {
    taskId: `${parent.taskId}/task-${call}-${index}`,
    agent: task.agent,
    description: task.description,
    prompt: task.prompt,
    ...(task.maxSteps !== undefined ? { maxSteps: task.maxSteps } : {}),
    ...(task.outputSchema !== undefined ? { outputSchema: task.outputSchema } : {}),
    parentSessionId: `task-run-${parent.taskId}`,
  };
}

/** Why a call's tasks cannot run as asked, or undefined when they can. */
function refusal(children: readonly AgentStepSpec[], depth: number): string | undefined {
  if (depth > MAX_DELEGATION_DEPTH) {
    return `delegation refused: tasks may nest at most ${MAX_DELEGATION_DEPTH} deep; do this work yourself`;
  }
  const board = progressBoard();
  // A loop's rounds run the same ids again, so only a step still under way is a clash.
  const clash = children.find((spec) => {
    const status = board.latest(spec.taskId)?.status;
    return status === 'pending' || status === 'running' || status === 'waiting';
  });
  return clash
    ? `delegation refused: task id ${clash.taskId} belongs to a step of this run still under way; rename that step`
    : undefined;
}
