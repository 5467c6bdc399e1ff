import type { WorkflowHandle } from '@temporalio/client';
import { cancelStep } from '../../src/client';
import type { AgentStepSpec } from '../../src/contracts';
import type { AgentExecutor, ExecutorResult, StepContext } from '../../src/executors/executor';
import { ScriptExecutor } from '../../src/executors/script';
import type { Progress } from '../../src/workflows/lib';
import type { DecisionKind } from '../../src/workflows/lib/progress';
import { RecordingExecutor } from './recording-executor';

/**
 * Wraps a real executor and holds chosen steps at a gate until the test
 * releases them (or the step is cancelled), so a test can observe and
 * interrupt a run at an exact point instead of guessing with sleeps.
 */
export class GateExecutor implements AgentExecutor {
  /** taskIds whose step saw its cancellation signal while held at the gate. */
  readonly aborted: string[] = [];
  private readonly released = new Set<string>();
  private readonly waiters = new Map<string, () => void>();

  constructor(
    private readonly inner: AgentExecutor,
    private readonly isGated: (taskId: string) => boolean,
  ) {}

  concurrencyHint(): number {
    return this.inner.concurrencyHint();
  }

  release(taskId: string): void {
    this.released.add(taskId);
    this.waiters.get(taskId)?.();
  }

  async executeStep(spec: AgentStepSpec, context: StepContext): Promise<ExecutorResult> {
    if (this.isGated(spec.taskId) && !this.released.has(spec.taskId)) {
      await new Promise<void>((resolve, reject) => {
        this.waiters.set(spec.taskId, resolve);
        const onAbort = () => {
          this.aborted.push(spec.taskId);
          reject(new Error('step cancelled at the gate'));
        };
        // A signal aborted before the step got here fires no event for a listener added now.
        if (context.signal.aborted) onAbort();
        else context.signal.addEventListener('abort', onAbort, { once: true });
      });
    }
    return this.inner.executeStep(spec, context);
  }
}

/** Every step waits at the gate until released; `started` lists the steps that reached the executor. */
export function gatedExecutor() {
  const gate = new GateExecutor(new ScriptExecutor(), () => true);
  const recording = new RecordingExecutor(gate);
  return { gate, executor: recording, started: recording.started };
}

/** Waits until `taskId` is in `list` (a step that reached the executor, or saw its cancellation there). */
export const untilIn = (list: readonly string[], taskId: string) =>
  eventually(async () => (list.includes(taskId) ? true : undefined));

/** Waits for `taskId` to reach the executor, cancels it alone, and waits until the executor saw the signal. */
export async function cancelWhileRunning(
  handle: WorkflowHandle,
  { gate, started }: ReturnType<typeof gatedExecutor>,
  taskId: string,
): Promise<void> {
  await untilIn(started, taskId);
  expect(await cancelStep(handle, taskId)).toEqual({ taskId, was: 'running' });
  await untilIn(gate.aborted, taskId);
}

/** Polls `probe` until it returns a value other than undefined; fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Once each of `taskIds` waits for a decision of `kind`, as the run's progress shows it. */
export const untilWaitingOn = (handle: WorkflowHandle, kind: DecisionKind, ...taskIds: string[]) =>
  eventually(async () => {
    const { steps } = await handle.query<Progress>('progress');
    const waiting = new Set(
      steps.filter((s) => s.status === 'waiting' && s.decision === kind).map((s) => s.taskId),
    );
    return taskIds.every((id) => waiting.has(id)) ? true : undefined;
  });
