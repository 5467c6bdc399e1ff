/**
 * The worker's side of the {@link StepEvents} seam: stamps each event with
 * the attempt and the time, cuts it to the event limit, and appends it to the
 * store in the background, one append in flight at a time, so a step's own
 * events land in the order it reported them. Streamed text is gathered for
 * {@link TRANSCRIPT_LIMITS.deltaMs} into one event: a follower sees text
 * arrive, and the store gets about ten writes a second per streaming step, not
 * one per chunk. A failed write is logged, its events lost, and the step goes
 * on: a transcript never fails the step it describes.
 */
import { describeZodError } from '../contracts';
import {
  type StepEventBody,
  StepEventBodySchema,
  type StepEvents,
  TRANSCRIPT_LIMITS,
  type TranscriptKey,
  type TranscriptStore,
  type UnnumberedEvent,
  withinEventLimit,
} from './events';

/**
 * How long an attempt's end waits for its last events. Its heartbeats have
 * stopped by then, so a store that hangs (a frozen database answers only at
 * its query timeout) must not hold the step's result until Temporal gives up
 * on the attempt; a healthy store takes milliseconds, so readers of a finished
 * step see all of it.
 */
export const CLOSE_WAIT_MS = 1_000;

export class TranscriptWriter implements StepEvents {
  private queued: UnnumberedEvent[] = [];
  /** Text streamed and not yet queued: the delta being gathered. */
  private delta: { round: number; text: string; timeMs: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private dropped = 0;
  private failures = 0;
  private invalid = 0;

  constructor(
    private readonly store: TranscriptStore,
    private readonly key: TranscriptKey,
    private readonly attempt: number,
    private readonly warn: (message: string, error: string) => void,
  ) {}

  /** A custom executor's event that is not one is dropped, and the first such said in the log. */
  emit(reported: StepEventBody): void {
    const parsed = StepEventBodySchema.safeParse(reported);
    if (!parsed.success) {
      if (this.invalid++ === 0)
        this.warn('step event dropped, not a transcript event', describeZodError(parsed.error));
      return;
    }
    const event = parsed.data;
    if (event.kind === 'text-delta') {
      if (this.delta && this.delta.round === event.round) this.delta.text += event.text;
      else {
        this.queueDelta();
        this.delta = { round: event.round, text: event.text, timeMs: Date.now() };
      }
      this.timer ??= setTimeout(() => this.flush(), TRANSCRIPT_LIMITS.deltaMs).unref();
      return;
    }
    this.queueDelta();
    const stamped = this.stamp(
      event.kind === 'attempt-end' && this.dropped > 0 ? { ...event, droppedEvents: this.dropped } : event,
    );
    this.queued.push(stamped);
    this.flush();
  }

  /**
   * Resolves once everything emitted so far was written (or failed to be), or
   * after {@link CLOSE_WAIT_MS}, whichever is first: what is still being
   * written then lands later, and the attempt's result does not wait for it.
   */
  async close(): Promise<void> {
    this.queueDelta();
    this.flush();
    // A plain timer: an AbortController to cancel a sleep, one a step, outlived minor GCs in a busy worker.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.writing,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS).unref())),
    ]);
    clearTimeout(timer);
  }

  private stamp(event: StepEventBody, timeMs = Date.now()): UnnumberedEvent {
    return withinEventLimit({ ...event, attempt: this.attempt, timeMs });
  }

  private queueDelta(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.delta) return;
    const { round, text, timeMs } = this.delta;
    this.delta = undefined;
    this.queued.push(this.stamp({ kind: 'text-delta', round, text }, timeMs));
  }

  /** Chains one append of all that is queued after the one in flight. */
  private flush(): void {
    this.queueDelta();
    this.writing = this.writing.then(async () => {
      const batch = this.queued;
      if (batch.length === 0) return;
      this.queued = [];
      try {
        this.dropped += await this.store.appendTranscript(this.key, batch);
      } catch (error) {
        // The first failure is worth a line; the rest of a dead store's are the same line.
        if (this.failures++ === 0) {
          this.warn(
            'step transcript could not be written',
            error instanceof Error ? error.message : String(error),
          );
        }
      }
    });
  }
}
