/**
 * A file every step appends to when it starts and when it finishes, written
 * synchronously so a line on disk is a side effect that really happened, even
 * if the process is SIGKILLed the next instant. Tests count lines to tell how
 * many times each step ran, across worker processes.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { AgentStepSpec } from '../../src/contracts';
import type { AgentExecutor, ExecutorResult, StepContext } from '../../src/executors/executor';

export interface SideEffect {
  event: 'start' | 'done';
  taskId: string;
  /** The worker process that ran it. */
  pid: number;
  /** When, in ms since the epoch: failover is measured from these. */
  at: number;
}

/** Wraps a real executor: `start <taskId> <pid>` before the step, `done <taskId> <pid>` after a successful one. */
export class SideEffectLogExecutor implements AgentExecutor {
  constructor(
    private readonly inner: AgentExecutor,
    private readonly logFile: string,
  ) {}

  concurrencyHint(): number {
    return this.inner.concurrencyHint();
  }

  /** As the wrapped executor's: an llm step asks its run for messages before each model call, as on a real worker. */
  get acceptsMessages(): boolean | undefined {
    return this.inner.acceptsMessages;
  }

  async executeStep(spec: AgentStepSpec, context: StepContext): Promise<ExecutorResult> {
    this.append('start', spec.taskId);
    const outcome = await this.inner.executeStep(spec, context);
    if ('success' in outcome && outcome.success) this.append('done', spec.taskId);
    return outcome;
  }

  private append(event: SideEffect['event'], taskId: string): void {
    // O_APPEND writes of one short line do not interleave between processes.
    appendFileSync(this.logFile, `${event} ${taskId} ${process.pid} ${Date.now()}\n`);
  }
}

/** What a side-effect log says so far; an absent file is an empty log. */
export class SideEffects {
  constructor(readonly entries: readonly SideEffect[]) {}

  static read(logFile: string): SideEffects {
    const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    return new SideEffects(
      text
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [event, taskId, pid, at] = line.split(' ');
          return { event: event as SideEffect['event'], taskId: taskId!, pid: Number(pid), at: Number(at) };
        }),
    );
  }

  starts(taskId: string): SideEffect[] {
    return this.entries.filter((e) => e.event === 'start' && e.taskId === taskId);
  }

  done(): string[] {
    return this.entries.filter((e) => e.event === 'done').map((e) => e.taskId);
  }

  /** Steps that one worker process started, finished or not. */
  startedBy(pid: number): string[] {
    return [
      ...new Set(this.entries.filter((e) => e.event === 'start' && e.pid === pid).map((e) => e.taskId)),
    ];
  }

  /** Steps started but not (yet) finished: what a crash right now would interrupt. */
  inFlight(): string[] {
    const finished = new Set(this.done());
    return [...new Set(this.entries.filter((e) => e.event === 'start').map((e) => e.taskId))].filter(
      (taskId) => !finished.has(taskId),
    );
  }
}
