/**
 * Messages a person sends to one step of a run while it waits or works (the
 * `message` Update, `tao say`). The run keeps them, numbered per step; the
 * step's activity reads those past the last one its conversation holds
 * (the `stepMessages` query) before each model call, and records that
 * number with the conversation it saves, so a message reaches the agent
 * once, however often the worker dies around its delivery. The Update is in
 * the run's history, which is the record of who said what; a rerun starts
 * from the run's input and does not replay them.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import {
  MESSAGE_MAX_CHARS,
  type StepMessage,
  type StepMessageInput,
  StepMessageInputSchema,
  describeZodError,
} from '../../contracts';
import { type ProgressBoard, hasEnded } from './progress';

export const messageUpdate = defineUpdate<{ taskId: string; seq: number }, [StepMessageInput]>('message');
export const stepMessagesQuery = defineQuery<StepMessage[], [{ taskId: string; after: number }]>(
  'stepMessages',
);

export class StepMessages {
  private readonly byTask = new Map<string, StepMessage[]>();

  constructor(private readonly board: ProgressBoard) {}

  /**
   * Why `input` cannot be taken, or undefined when it can: the step must be
   * in this run, not ended, and run by an executor whose steps read
   * messages (`acceptsMessages`: undefined until the run has asked the
   * worker, which it does before its first step).
   */
  refusal(input: unknown, acceptsMessages: boolean | undefined): string | undefined {
    const parsed = StepMessageInputSchema.safeParse(input);
    if (!parsed.success) {
      return `message needs { "taskId": "<step>", "text": "<1 to ${MESSAGE_MAX_CHARS} characters>" }: ${describeZodError(parsed.error)}`;
    }
    const { taskId } = parsed.data;
    const entry = this.board.latest(taskId);
    if (!entry) return `no step "${taskId}" in this run`;
    if (hasEnded(entry.status)) {
      return `step "${taskId}" has ended (${entry.status}); a message reaches a step that is pending, waiting or running`;
    }
    if (acceptsMessages !== true) {
      return `this run's executor cannot take messages: llm steps read them, command and script steps do not (an executor of your own declares acceptsMessages)`;
    }
    return undefined;
  }

  /** Keeps a message the validator let through; returns its number for the step. */
  add({ taskId, text }: StepMessageInput): number {
    const queue = this.byTask.get(taskId) ?? [];
    if (queue.length === 0) this.byTask.set(taskId, queue);
    const seq = queue.length + 1;
    queue.push({ seq, text: text.trim() });
    const entry = this.board.latest(taskId);
    if (entry) entry.messages = seq;
    return seq;
  }

  /** The messages of steps that have not ended, for the next execution of the run: a deferred step reads them there. */
  pending(): Record<string, StepMessage[]> | undefined {
    const kept = [...this.byTask].filter(([taskId]) => {
      const status = this.board.latest(taskId)?.status;
      return status === undefined || !hasEnded(status);
    });
    return kept.length > 0 ? Object.fromEntries(kept) : undefined;
  }

  /** What an earlier execution passed on ({@link pending}). */
  restore(carried: Record<string, StepMessage[]> | undefined): void {
    for (const [taskId, queue] of Object.entries(carried ?? {})) this.byTask.set(taskId, [...queue]);
  }

  /** The step's messages numbered after `after`, in order. */
  after(taskId: string, after: number): StepMessage[] {
    return (this.byTask.get(taskId) ?? []).filter((message) => message.seq > after);
  }
}
