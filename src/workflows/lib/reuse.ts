/**
 * A rerun's reused outcomes (`tao rerun`, contracts' `reuse`): the run it came
 * from ran these steps already, so a step with the same task id and spec
 * digest takes the old outcome instead of running, and costs nothing against
 * the budget. They come in the workflow's input, so replay sees the same ones
 * and the old run is never read, let alone touched, from here.
 *
 * What depends on a step that ran again must run again too; the combinators
 * decide that (a pipeline chain from its first step that ran, a loop from the
 * round after one that ran a step: `close`). A step with an approval always
 * runs: a person decided on the old outcome, not on this run's.
 */
import { setCurrentDetails } from '@temporalio/workflow';
import type { AgentStepSpec, Reuse, StepOutcome } from '../../contracts';
import { specDigest } from './spec-digest';

interface Reused {
  outcome: StepOutcome;
  /** The run whose step produced it. */
  workflowId: string;
}

type ReuseStep = Reuse['steps'][number];

export class RunReuse {
  private readonly byStep = new Map<string, ReuseStep[]>();
  private closed = false;
  /** Steps that could have been reused but ran, since the last `closeIfRan`. */
  private ran = 0;
  /** Steps taken so far, by the run each came from, and the first task ids: what the run's current details list. */
  private readonly taken = new Map<string, { count: number; ids: string[] }>();

  constructor(readonly input: Reuse) {
    for (const step of input.steps) {
      const key = stepKey(step.taskId, step.specDigest);
      const list = this.byStep.get(key) ?? [];
      list.push(step);
      this.byStep.set(key, list);
    }
  }

  /** The old outcome for `spec`, taken (a later step with the same identity gets the next one), if any. */
  take(spec: AgentStepSpec): Reused | undefined {
    if (this.closed || spec.approval) return undefined;
    const found = this.byStep.get(stepKey(spec.taskId, specDigest(spec)))?.shift();
    if (!found) {
      this.ran += 1;
      return undefined;
    }
    const workflowId = found.workflowId ?? this.input.fromWorkflowId;
    const from = this.taken.get(workflowId) ?? { count: 0, ids: [] };
    from.count += 1;
    if (from.ids.length < DETAILS_IDS) from.ids.push(spec.taskId);
    this.taken.set(workflowId, from);
    setCurrentDetails(this.details());
    return { outcome: found.outcome, workflowId };
  }

  /**
   * A reused step starts no activity, so nothing in the history shows it; the
   * run's current details (`temporal workflow metadata`, the Web UI's
   * "Current Details") say which steps were reused and from which run.
   */
  private details(): string {
    const lines = [...this.taken].map(([from, { count, ids }]) => {
      const shown = count > ids.length ? [...ids, '…'] : ids;
      return `${count} reused from ${from}: ${shown.join(', ')}`;
    });
    return [`Rerun of ${this.input.fromWorkflowId}.`, ...lines].join('\n');
  }

  /** What a continued execution may still reuse: nothing once closed, else the entries not taken. */
  left(): Reuse | undefined {
    if (this.closed) return undefined;
    return { fromWorkflowId: this.input.fromWorkflowId, steps: [...this.byStep.values()].flat() };
  }

  /**
   * Once a step ran rather than being reused (since the last call), nothing
   * more is: what runs after depends on its outcome.
   */
  closeIfRan(): void {
    if (this.ran > 0) this.closed = true;
    this.ran = 0;
  }
}

/** Task ids listed per source run in the current details; a 10,000-step rerun lists a count past these. */
const DETAILS_IDS = 20;

const stepKey = (taskId: string, digest: string) => `${digest} ${taskId}`;
