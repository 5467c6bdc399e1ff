/**
 * Reading and removing steps' transcripts (src/transcripts/events.ts) from
 * the checkpoint store the workers write them to. Transcripts never pass
 * through Temporal, so these need the store, not a client connection.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { SessionStore } from '../stores/session-store';
import type { StepEvent, Transcript, TranscriptStore } from '../transcripts/events';
import { hasEnded } from '../workflows/lib/progress';
import { fetchProgress } from './fetch-progress';

/** The store's transcripts; TAO's own stores all keep them, a store written against 1.0 may not. */
function transcriptsOf(store: SessionStore): TranscriptStore {
  if (!store.transcripts)
    throw new Error('this store keeps no step transcripts; use a file: or postgres:// store');
  return store.transcripts;
}

/** A step's transcript, its events after `afterSeq` (default all); `undefined` when the step has none. */
export function stepTranscript(
  store: SessionStore,
  workflowId: string,
  taskId: string,
  options: { afterSeq?: number } = {},
): Promise<Transcript | undefined> {
  return transcriptsOf(store).readTranscript({ workflowId, taskId }, options.afterSeq ?? 0);
}

export interface FollowOptions {
  /** Events after this `seq` (default 0: from the start). */
  afterSeq?: number;
  /** How often the store is asked for more; default 250 ms. */
  pollMs?: number;
  /** Ends the iteration (without an error) when aborted. */
  signal?: AbortSignal;
  /** Told of each read that failed; the next poll asks again from the last `seq` given. */
  onError?: (error: unknown) => void;
  /**
   * Asked whether the step still runs, so that a step that ends without a
   * final event (its retries ran out after a crash, it was cancelled, its run
   * closed) ends the iteration too. Without it, only the final event does.
   */
  client?: Client;
  /** How often `client` is asked; default 3 s. */
  livenessMs?: number;
  /** Told once, when the step was found over without its final event. */
  onStepOver?: () => void;
}

/** An attempt's writer lands its last events within 1 s of its end (the writer's CLOSE_WAIT_MS); then some. */
export const WRITER_GRACE_MS = 1_500;

/**
 * The step's events as they land, oldest first, from `afterSeq` on; it ends
 * after an attempt's end that ends the step (`success` or `failed`), when
 * `signal` aborts, or (given a `client`) once the run says the step no longer
 * runs and the writer's grace has passed with its last events read. A read
 * that fails (the store restarting, a network drop) is retried on the next
 * poll from the last `seq` yielded, so nothing is missed or given twice.
 */
export async function* followStep(
  store: SessionStore,
  workflowId: string,
  taskId: string,
  options: FollowOptions = {},
): AsyncGenerator<StepEvent> {
  const transcripts = transcriptsOf(store);
  const { pollMs = 250, signal, client } = options;
  let seq = options.afterSeq ?? 0;
  // Once the step is found over: the time after which a read that brings nothing more ends the iteration.
  let overAt: number | undefined;
  let checkedAt = -Infinity;
  let checking: Promise<void> | undefined;
  const check = () => {
    checkedAt = Date.now();
    checking = stepGoing(client!, workflowId, taskId).then((going) => {
      checking = undefined;
      if (!going && overAt === undefined) overAt = Date.now() + WRITER_GRACE_MS;
    });
  };
  while (!signal?.aborted) {
    if (
      client &&
      overAt === undefined &&
      !checking &&
      Date.now() - checkedAt >= (options.livenessMs ?? 3_000)
    )
      check();
    const lastChance = overAt !== undefined && Date.now() >= overAt;
    let events: StepEvent[] = [];
    try {
      events = (await transcripts.readTranscript({ workflowId, taskId }, seq))?.events ?? [];
    } catch (error) {
      options.onError?.(error);
    }
    for (const event of events) {
      seq = event.seq;
      yield event;
      if (endsStep(event)) return;
    }
    if (lastChance && events.length === 0) {
      options.onStepOver?.();
      return;
    }
    await sleep(pollMs, undefined, signal ? { signal } : {}).catch(() => undefined);
  }
}

/** Whether the step is over once `event` is: an attempt ended with its outcome. */
export const endsStep = (event: StepEvent) =>
  event.kind === 'attempt-end' && (event.result === 'success' || event.result === 'failed');

/**
 * Whether the step may still write: its run is open and its progress shows
 * it pending, waiting or running. A run that does not answer, or a step it
 * does not list yet (a later stage or round), counts as going: no answer now
 * does not mean the step is over.
 */
export async function stepGoing(client: Client, workflowId: string, taskId: string): Promise<boolean> {
  try {
    const handle = client.workflow.getHandle(workflowId);
    if ((await handle.describe()).status.name !== 'RUNNING') return false;
    const progress = await fetchProgress(handle);
    // A loop's step comes once per round: going while any of its entries is.
    const entries = progress?.steps.filter((s) => s.taskId === taskId) ?? [];
    return !progress || entries.length === 0 || entries.some((s) => !hasEnded(s.status));
  } catch {
    return true;
  }
}

/** Removes one step's transcript, or all of the workflow's steps' without `taskId`; resolves to how many steps'. */
export function removeTranscripts(store: SessionStore, workflowId: string, taskId?: string): Promise<number> {
  return transcriptsOf(store).deleteTranscripts(workflowId, taskId);
}
