/**
 * Reading and removing steps' transcripts (src/transcripts/events.ts) from
 * the checkpoint store the workers write them to. Transcripts never pass
 * through Temporal, so these need the store, not a client connection.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SessionStore } from '../stores/session-store';
import type { StepEvent, Transcript, TranscriptStore } from '../transcripts/events';

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
}

/**
 * The step's events as they land, oldest first, from `afterSeq` on; it ends
 * after an attempt's end that ends the step (`success` or `failed`), or when
 * `signal` aborts. A read that fails (the store restarting, a network drop)
 * is retried on the next poll from the last `seq` yielded, so nothing is
 * missed or given twice.
 */
export async function* followStep(
  store: SessionStore,
  workflowId: string,
  taskId: string,
  options: FollowOptions = {},
): AsyncGenerator<StepEvent> {
  const transcripts = transcriptsOf(store);
  const { pollMs = 250, signal } = options;
  let seq = options.afterSeq ?? 0;
  while (!signal?.aborted) {
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
    await sleep(pollMs, undefined, signal ? { signal } : {}).catch(() => undefined);
  }
}

/** Whether the step is over once `event` is: an attempt ended with its outcome. */
export const endsStep = (event: StepEvent) =>
  event.kind === 'attempt-end' && (event.result === 'success' || event.result === 'failed');

/** Removes one step's transcript, or all of the workflow's steps' without `taskId`; resolves to how many steps'. */
export function removeTranscripts(store: SessionStore, workflowId: string, taskId?: string): Promise<number> {
  return transcriptsOf(store).deleteTranscripts(workflowId, taskId);
}
