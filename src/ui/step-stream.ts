/**
 * A step's transcript as Server-Sent Events: what `tao ui`'s step page
 * watches. The events come from the checkpoint store the workers write
 * transcripts to (src/client/transcripts.ts), never from workflow history,
 * which gains nothing per chunk; Temporal is asked only whether the step is
 * still going, once every few seconds.
 *
 * Invariants:
 * - each SSE message is one transcript event, its `id:` the event's `seq`;
 *   a client that reconnects with `Last-Event-ID: n` gets the events after n
 *   only, so a dropped stream resumes with nothing missed or told twice;
 * - the stream ends with an `end` message once the step is over: its last
 *   attempt ended with the step's outcome, or (for a step that ends without
 *   saying so: cancelled, its run closed, a command step keeping no transcript)
 *   the run says it is no longer running, after the writer's grace to land
 *   its last events;
 * - a client that goes away stops the store's polling at once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { endsStep, followStep } from '../client';
import type { SessionStore } from '../stores/session-store';
import { checkTranscriptKey } from '../transcripts/events';
import { NotFound } from './api';

/** How often the store is read while a page watches; a chunk shows within about this plus the writer's 100 ms. */
export const STREAM_POLL_MS = 100;
/** How often Temporal is asked whether the step still runs; each tick also keeps idle proxies from closing. */
export const LIVENESS_MS = 3_000;
const LastEventIdSchema = z.coerce.number().int().min(0).default(0);

export interface StepStreamOptions {
  client: Client;
  store: SessionStore;
  workflowId: string;
  taskId: string;
  pollMs?: number;
  livenessMs?: number;
}

export async function streamStepEvents(
  request: IncomingMessage,
  response: ServerResponse,
  options: StepStreamOptions,
): Promise<void> {
  const { client, store, workflowId, taskId } = options;
  const afterSeq = LastEventIdSchema.parse(request.headers['last-event-id'] || undefined);
  // Refused before the stream starts, as a JSON error: once it has, a lasting fault would only be retried.
  if (!store.transcripts)
    throw new NotFound('the store keeps no step transcripts; use a file: or postgres:// store');
  checkTranscriptKey({ workflowId, taskId });
  const stop = new AbortController();
  response.once('close', () => stop.abort());
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    // A proxy that buffers (nginx) would hold the text back until the step ends.
    'x-accel-buffering': 'no',
  });
  // The page reconnects after a second; a browser's own EventSource would too.
  response.write('retry: 1000\n\n');

  let ended: string | undefined;
  // Keeps idle proxies from closing the stream while nothing lands.
  const keepAlive = setInterval(
    () => response.write(': still watching\n\n'),
    options.livenessMs ?? LIVENESS_MS,
  );
  try {
    const events = followStep(store, workflowId, taskId, {
      afterSeq,
      pollMs: options.pollMs ?? STREAM_POLL_MS,
      signal: stop.signal,
      client,
      livenessMs: options.livenessMs ?? LIVENESS_MS,
      onStepOver: () => (ended = 'the step is no longer running'),
    });
    // The events of one store read go out in one write (a long transcript is thousands of them).
    let batch = '';
    const send = () => {
      if (batch) response.write(batch);
      batch = '';
    };
    for await (const event of events) {
      if (!batch) setImmediate(send);
      batch += `id: ${event.seq}\ndata: ${JSON.stringify(event)}\n\n`;
      if (endsStep(event))
        ended =
          event.kind === 'attempt-end' && event.result === 'success'
            ? 'the step succeeded'
            : 'the step failed';
    }
    send();
  } finally {
    clearInterval(keepAlive);
  }
  if (ended !== undefined && !response.destroyed) {
    response.end(`event: end\ndata: ${JSON.stringify({ reason: ended })}\n\n`);
  } else response.end();
}
