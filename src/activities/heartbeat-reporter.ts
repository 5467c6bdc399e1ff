/**
 * What an agent step's heartbeats say, and when they are sent. Beats go on
 * the reporter's own clock so every executor, however written, stays
 * visibly alive and receives cancellation (which Temporal delivers on
 * heartbeat). Each beat repeats everything the executor reported (see
 * ./heartbeat), since a beat replaces the last one's details; until the
 * executor saves a newer state, the one the attempt resumed from is kept for
 * the next retry, so the ticker must not start before {@link resumeFrom}.
 *
 * Output streams in many small pieces; one beat per {@link OUTPUT_BEAT_MS}
 * shows it without a data-converter pass each. Output after a quiet spell
 * beats at once (a delay here adds to the SDK's throttle and the page's
 * poll, against the UI's 2 s); a burst's later pieces go in one beat at the
 * interval's end.
 */
import { type StepHeartbeat, outputTail } from './heartbeat';
import type { ResumePoint } from './step-state';

/** Fallback beat when the workflow set no heartbeat timeout (Temporal then ignores beats anyway). */
const DEFAULT_HEARTBEAT_MS = 5_000;
/** The least time between output beats; the worker's heartbeat throttle applies on top. */
const OUTPUT_BEAT_MS = 500;

/** A third of the heartbeat timeout, so two beats may be lost before the server gives up on the attempt. */
export function beatInterval(heartbeatTimeoutMs: number | undefined): number {
  return Math.max(100, Math.floor((heartbeatTimeoutMs || DEFAULT_HEARTBEAT_MS * 3) / 3));
}

export class HeartbeatReporter {
  private readonly latest: StepHeartbeat;
  private ticker: NodeJS.Timeout | undefined;
  private outputBeat: NodeJS.Timeout | undefined;
  private lastOutputBeat = 0;

  constructor(
    private readonly send: (details: StepHeartbeat) => void,
    taskId: string,
    private readonly everyMs: number,
  ) {
    this.latest = { taskId };
  }

  /** Carries the state the attempt resumed from until the executor saves a newer one. */
  resumeFrom(point: ResumePoint): void {
    if (point.state !== undefined) Object.assign(this.latest, { resume: point.state, seq: point.seq });
  }

  /** Starts the ticker; call once, after {@link resumeFrom}. */
  start(): void {
    this.ticker ??= setInterval(this.beat, this.everyMs);
  }

  info(info: unknown): void {
    this.latest.info = info;
    this.beat();
  }

  saved(state: unknown, seq: number): void {
    this.latest.resume = state;
    this.latest.seq = seq;
    this.beat();
  }

  output(textSoFar: string): void {
    this.latest.output = outputTail(textSoFar);
    // A beat already due carries this text too.
    if (this.outputBeat) return;
    const wait = this.lastOutputBeat + OUTPUT_BEAT_MS - Date.now();
    if (wait <= 0) return this.outputBeatNow();
    this.outputBeat = setTimeout(() => {
      this.outputBeat = undefined;
      this.outputBeatNow();
    }, wait);
  }

  stop(): void {
    clearInterval(this.ticker);
    clearTimeout(this.outputBeat);
  }

  private readonly beat = () => this.send(this.latest);

  private outputBeatNow(): void {
    this.lastOutputBeat = Date.now();
    this.beat();
  }
}
