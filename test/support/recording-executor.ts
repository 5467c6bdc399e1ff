import type { AgentStepSpec } from '../../src/contracts';
import type {
  AgentExecutor,
  ExecutorResult,
  StepCacheIdentity,
  StepContext,
} from '../../src/executors/executor';

/**
 * Wraps a real executor and records what actually ran: every start (a side
 * effect count per taskId), start/end times, and peak concurrency.
 */
export class RecordingExecutor implements AgentExecutor {
  readonly started: string[] = [];
  /** taskIds whose step returned a successful outcome, in completion order. */
  readonly succeeded: string[] = [];
  readonly spans: { taskId: string; start: number; end: number }[] = [];
  private active = 0;
  peak = 0;

  constructor(
    private readonly inner: AgentExecutor,
    private readonly hint = inner.concurrencyHint(),
  ) {}

  concurrencyHint(): number {
    return this.hint;
  }

  /** The wrapped executor's, so the step cache keys on what really runs. */
  cacheIdentity(spec: AgentStepSpec): StepCacheIdentity | undefined {
    return this.inner.cacheIdentity?.(spec);
  }

  runs(taskId: string): number {
    return this.started.filter((id) => id === taskId).length;
  }

  async executeStep(spec: AgentStepSpec, context: StepContext): Promise<ExecutorResult> {
    this.started.push(spec.taskId);
    this.peak = Math.max(this.peak, ++this.active);
    const start = Date.now();
    try {
      const outcome = await this.inner.executeStep(spec, context);
      if ('success' in outcome && outcome.success) this.succeeded.push(spec.taskId);
      return outcome;
    } finally {
      this.active--;
      this.spans.push({ taskId: spec.taskId, start, end: Date.now() });
    }
  }
}
