/**
 * What an agent step's heartbeats say, and when they are sent. Every beat
 * that reaches the server is a billed Temporal Cloud Action and a write on
 * the server, so a beat goes only when there is something to say:
 *
 * - liveness: when no beat went for the pace's {@link BeatPace.livenessMs},
 *   so the server does not time the attempt out. These beats go on the
 *   reporter's own clock, so every executor, however written, stays visibly
 *   alive and receives cancellation (which Temporal delivers on heartbeat);
 * - news: a progress report (a turn ended), a saved state, new output. With
 *   a fast pace it beats at once (output: see {@link OUTPUT_BEAT_MS}); with
 *   an economy pace it waits for the next liveness beat, which carries it.
 *
 * Each beat repeats everything the executor reported (see ./heartbeat),
 * since a beat replaces the last one's details; until the executor saves a
 * newer state, the one the attempt resumed from is kept for the next retry,
 * so the clock must not start before {@link HeartbeatReporter.resumeFrom}.
 * A state too large to ride in a beat while the checkpoint store keeps it is
 * left out, the beat naming it by number (see ./heartbeat, `storedSeq`).
 * The worker's heartbeat throttle (src/worker.ts: 1 s) applies on top.
 */
import { type StepHeartbeat, fitsInBeat, outputTail } from './heartbeat';
import type { ResumePoint } from './step-state';

/** Fallback heartbeat timeout when the workflow set none (Temporal then ignores beats anyway). */
const DEFAULT_HEARTBEAT_TIMEOUT_MS = 15_000;
/**
 * Output streams in many small pieces; one beat per this long shows it
 * without a data-converter pass each. Output after a quiet spell beats at
 * once (a delay here adds to the SDK's throttle and the page's poll, against
 * the UI's 2 s); a burst's later pieces go in one beat at the interval's end.
 */
const OUTPUT_BEAT_MS = 500;
/**
 * What a lost beat's successor must still have before the heartbeat timeout:
 * a heartbeat RPC's round trip and a busy event loop's delay, with room over.
 */
const LOST_BEAT_SLACK_MS = 5_000;
/**
 * From this heartbeat timeout on, a step has been given slow failover to
 * beat less: its news waits for the next liveness beat. Below it, news beats
 * at once, as live views (the Web UI's 2 s) expect.
 */
export const ECONOMY_HEARTBEAT_TIMEOUT_MS = 60_000;

/** When a step beats, from its heartbeat timeout: its one setting (`stepPolicy.heartbeatTimeoutMs`). */
export interface BeatPace {
  /** The longest a step goes without a beat. */
  livenessMs: number;
  /** News waits for the next liveness beat instead of beating at once. */
  economy: boolean;
}

/**
 * Liveness as rare as keeps the attempt alive through a lost beat: a third
 * of the timeout (two beats may be lost), or, for long timeouts, half of it
 * less {@link LOST_BEAT_SLACK_MS} (one may be, with that to spare), whichever
 * beats less often. 7 s gives 2.3 s; 80 s gives 37.5 s, 96 beats an hour.
 */
export function beatPace(heartbeatTimeoutMs: number | undefined): BeatPace {
  const timeout = heartbeatTimeoutMs || DEFAULT_HEARTBEAT_TIMEOUT_MS;
  const livenessMs = Math.max(100, Math.floor(Math.max(timeout / 3, (timeout - LOST_BEAT_SLACK_MS) / 2)));
  return { livenessMs, economy: timeout >= ECONOMY_HEARTBEAT_TIMEOUT_MS };
}

export class HeartbeatReporter {
  private readonly latest: StepHeartbeat;
  private started = false;
  private liveness: NodeJS.Timeout | undefined;
  private outputBeat: NodeJS.Timeout | undefined;
  private lastOutputBeat = 0;

  constructor(
    private readonly send: (details: StepHeartbeat) => void,
    taskId: string,
    private readonly pace: BeatPace,
    /** The checkpoint store keeps every saved state: a large one need not ride in the beat. */
    private readonly storeKeepsStates = false,
  ) {
    this.latest = { taskId };
  }

  /**
   * Carries the state the attempt resumed from until the executor saves a
   * newer one: the last beat's state as it was (it rode in a beat already, and
   * the store may not hold it), then the store's when that is further on and
   * may ride; a large one is named only, the beat's small state kept.
   */
  resumeFrom(beat: ResumePoint, resumed: ResumePoint = beat): void {
    if (beat.state !== undefined) Object.assign(this.latest, { resume: beat.state, seq: beat.seq });
    if (resumed.state !== undefined && resumed.seq > beat.seq) this.keep(resumed.state, resumed.seq);
  }

  /** Starts the liveness clock; call once, after {@link resumeFrom}. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.armLiveness();
  }

  info(info: unknown): void {
    this.latest.info = info;
    this.news();
  }

  saved(state: unknown, seq: number): void {
    this.keep(state, seq);
    this.news();
  }

  output(textSoFar: string): void {
    this.latest.output = outputTail(textSoFar);
    // A beat already due carries this text too.
    if (this.pace.economy || this.outputBeat) return;
    const wait = this.lastOutputBeat + OUTPUT_BEAT_MS - Date.now();
    if (wait <= 0) return this.outputBeatNow();
    this.outputBeat = setTimeout(() => {
      this.outputBeat = undefined;
      this.outputBeatNow();
    }, wait);
  }

  stop(): void {
    this.started = false;
    clearTimeout(this.liveness);
    clearTimeout(this.outputBeat);
  }

  /** A large state stays in the store only; the beat keeps the last small one for a store that loses it. */
  private keep(state: unknown, seq: number): void {
    if (this.storeKeepsStates && !fitsInBeat(state)) {
      this.latest.storedSeq = seq;
      return;
    }
    this.latest.resume = state;
    this.latest.seq = seq;
    delete this.latest.storedSeq;
  }

  /** News beats at once at a fast pace; at an economy one, the next liveness beat carries it. */
  private news(): void {
    if (!this.pace.economy) this.beat();
  }

  /** Sends what the step has reported so far; the liveness clock runs from here. */
  private readonly beat = () => {
    this.send(this.latest);
    if (this.started) this.armLiveness();
  };

  private armLiveness(): void {
    clearTimeout(this.liveness);
    this.liveness = setTimeout(this.beat, this.pace.livenessMs);
  }

  private outputBeatNow(): void {
    this.lastOutputBeat = Date.now();
    this.beat();
  }
}
