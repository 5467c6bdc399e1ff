import { authHeaders } from './dom.js';

// Server-Sent Events read with fetch, not EventSource: EventSource cannot send the auth token's header.
// The protocol is the same: `id:` is the last event's number, and a reconnect sends it as Last-Event-ID,
// so a dropped stream goes on after what the page already shows, nothing missed or shown twice.

const RETRY_MS = 1000;

/**
 * Follows the event stream at `path`: `onOpen` is told each time it connects, `onEvents` gets each batch of
 * parsed events (all that arrived in one read), `onEnd` the server's `end` message, `onError` a refusal or a
 * drop (it reconnects after a drop, not after a refusal). Returns a function that stops following.
 */
export function follow(path, { onOpen, onEvents, onEnd, onError }) {
  const stop = new AbortController();
  let lastId;
  const connect = async () => {
    const headers = authHeaders();
    if (lastId !== undefined) headers['last-event-id'] = lastId;
    const response = await fetch(path, { headers, signal: stop.signal });
    if (!response.ok) {
      const { error } = await response.json().catch(() => ({}));
      throw Object.assign(new Error(error ?? `HTTP ${response.status}`), { refused: true });
    }
    onOpen();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return false;
      buffer += value;
      const messages = buffer.split('\n\n');
      buffer = messages.pop();
      const events = [];
      let end;
      for (const message of messages) {
        const fields = parse(message);
        if (fields.id !== undefined) lastId = fields.id;
        if (fields.data === undefined) continue;
        if (fields.event === 'end') end = JSON.parse(fields.data);
        else events.push(JSON.parse(fields.data));
      }
      if (events.length) onEvents(events);
      if (end) {
        onEnd(end);
        return true;
      }
    }
  };
  const run = async () => {
    while (!stop.signal.aborted) {
      try {
        if (await connect()) return;
      } catch (error) {
        if (stop.signal.aborted) return;
        onError(error);
        if (error.refused) return;
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  };
  run();
  return () => stop.abort();
}

/** One SSE message's fields; comment lines (`: …`) and `retry:` are skipped. */
function parse(message) {
  const fields = {};
  for (const line of message.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).replace(/^ /, '');
    fields[name] = name === 'data' && fields.data !== undefined ? `${fields.data}\n${value}` : value;
  }
  return fields;
}
