/**
 * Tasks a step delegates (an llm agent's `task` and `parallel_task` tools; see
 * `DelegationRequestSchema`): workflow code runs each as a child step of the
 * same run, through the same path as every other step (pause, budget,
 * `cancelStep`, progress), and hands their outcomes back to the parent, whose
 * activity then goes on from its tool call.
 *
 * A child's task id is `<parent>/task-<n>-<k>`: the k-th task of the parent's
 * n-th delegating call, counted over the parent's life, so it is the same on
 * every replay and retry. A child runs in its parent's cancellation scope, so
 * cancelling the parent (or the run) cancels its children, while `cancelStep`
 * on one child ends only that child, as "cancelled by user". Children queue
 * for the run's slots right behind their parent (./slots).
 */
import type { CancellationScope } from '@temporalio/workflow';
import {
  type AgentStepSpec,
  type DelegationRequest,
  type DelegationResult,
  type StepOutcome,
  failedOutcome,
} from '../../contracts';
import { CANCELLED_BY_USER } from './controls';
import { type Settled, settleQueued } from './pool';
import { type StepProgress, hasEnded, settledOutcome } from './progress';
import type { Grant, Priority } from './slots';
import type { StepCall } from './step-call';

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

/** How a child runs once its first slot is decided: runQueuedStep (./steps), handed in so this module does not import it back. */
export type RunChild = (
  call: StepCall,
  spec: AgentStepSpec,
  entry: StepProgress,
  at: { place: StepPlace; priority: Priority; reusable: boolean; deferrable: boolean },
  grant: Grant,
  scope: CancellationScope,
) => Promise<StepOutcome | object>;

/**
 * Runs the tasks of `request` as children of `parent` (its calls numbered
 * from `asked + 1`) and returns one result per call, in order. A child that
 * crashed becomes a failed outcome, so the parent always hears of every task.
 */
export async function runDelegated(
  call: StepCall,
  parent: AgentStepSpec,
  request: DelegationRequest,
  at: { place: StepPlace; priority: Priority },
  asked: number,
  runChild: RunChild,
): Promise<DelegationResult[]> {
  const { board } = call.context;
  const depth = at.place.depth + 1;
  const childPlace: StepPlace = { depth, maxDepth: request.maxDepth, parentTaskId: parent.taskId };
  const calls = request.calls.map((item, c) => {
    const children = item.tasks.map((task, k) => childSpec(parent, task, asked + c + 1, k + 1));
    return { call: item, children, refusal: refusal(call, children, depth) };
  });
  const accepted = calls.flatMap(({ children, refusal }) => (refusal ? [] : children));
  for (const spec of accepted) call.taskIds.add(spec.taskId);
  const outcomes = call.journal ? await call.journal.served(accepted) : new Map<string, StepOutcome>();
  const lineage = { parentTaskId: parent.taskId, depth };
  for (const spec of accepted) {
    if (outcomes.has(spec.taskId)) Object.assign(board.addStep(spec, 'cached'), lineage);
  }
  const runnable = accepted.filter((spec) => !outcomes.has(spec.taskId));
  const entries = runnable.map((spec) => Object.assign(board.addStep(spec, 'pending'), lineage));
  // The tasks queue for the run's slots right behind their parent; each is built when its slot is decided.
  const priority = (index: number) => [...at.priority, index];
  let settled: Settled<StepOutcome>[];
  try {
    settled = await settleQueued(
      call.slots,
      runnable,
      (spec, index) => ({ taskId: spec.taskId, priority: priority(index), first: true, deferrable: false }),
      (spec, index, scope, grant) => {
        const childAt = { place: childPlace, priority: priority(index), reusable: false, deferrable: false };
        return runChild(call, spec, entries[index]!, childAt, grant!, scope).then((ran) => {
          const outcome = ran as StepOutcome;
          if (outcome.success) call.journal?.record(spec, outcome);
          return outcome;
        });
      },
    );
  } catch (error) {
    // Cancelled with their parent (or the run): no task is left showing as pending or running.
    for (const entry of entries) {
      if (!hasEnded(entry.status)) Object.assign(entry, { status: 'failed', error: CANCELLED_BY_USER });
    }
    throw error;
  }
  settled.forEach((result, index) => {
    const spec = runnable[index]!;
    outcomes.set(spec.taskId, settledOutcome(result, spec, entries[index]!));
  });
  return calls.map(({ call: item, children, refusal }) => ({
    callId: item.callId,
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
function refusal(call: StepCall, children: readonly AgentStepSpec[], depth: number): string | undefined {
  if (depth > MAX_DELEGATION_DEPTH) {
    return `delegation refused: tasks may nest at most ${MAX_DELEGATION_DEPTH} deep; do this work yourself`;
  }
  const clash = children.find((spec) => call.taskIds.has(spec.taskId));
  return clash
    ? `delegation refused: task id ${clash.taskId} belongs to another step of this run; rename that step`
    : undefined;
}
