/**
 * A scripted HTTP endpoint on loopback: the base of the fake model
 * providers. Each request is answered by the next queued responder (else the
 * fallback), as JSON or, when the request asks to stream, as the provider's
 * server-sent events; every request is recorded so tests can check what the
 * executor actually sent over the wire.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRequest {
  path: string;
  headers: IncomingMessage['headers'];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read provider payloads freely
  body: any;
}

export interface FakeReply {
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Never answer: the request stays open until the client gives up. */
  hang?: boolean;
  /** When the client asked to stream: the pause before each event, so a test can watch text arrive. */
  chunkDelayMs?: number;
  /** When the client asked to stream: send this many events, then nothing more, the connection held open (a stream hung mid-answer). */
  hangAfterEvents?: number;
  /** When the client asked to stream: the last event waits for this too (a call that streams until the test has done something). */
  lastEventAfter?: Promise<unknown>;
}

export type Responder = (request: FakeRequest) => FakeReply;

/** What the server itself makes of a scripted reply to `request`: a refusal the real API would send, usage it bills. */
export type Review = (request: FakeRequest, reply: FakeReply) => FakeReply;

/** Splits text into a few pieces, at odd places, as a model's tokens fall. */
export function pieces(text: string, count = 4): string[] {
  const size = Math.max(1, Math.ceil(text.length / count));
  return Array.from({ length: Math.ceil(text.length / size) }, (_, i) =>
    text.slice(i * size, (i + 1) * size),
  );
}

/** Turns a successful answer body into the provider's server-sent events, each one `event:`/`data:` frame. */
export type Streamer = (body: unknown) => string[];

export class FakeServer {
  readonly requests: FakeRequest[] = [];
  /** Requests whose client closed the connection before an answer. */
  readonly abandoned: FakeRequest[] = [];
  /** Every streamed frame, with when it was written (the machine clock, `Date.now`): latency figures start here. */
  readonly framesSent: { frame: string; at: number }[] = [];
  private readonly queue: Responder[] = [];
  private onAbandon?: () => void;

  private port = 0;

  private constructor(
    private readonly server: Server,
    private readonly route: string,
    private readonly streamer: Streamer,
    private readonly fallback?: Responder,
    private readonly review: Review = (_, reply) => reply,
  ) {}

  static async start(
    route: string,
    streamer: Streamer,
    fallback?: Responder,
    review?: Review,
  ): Promise<FakeServer> {
    const server = createServer();
    const fake = new FakeServer(server, route, streamer, fallback, review);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const request: FakeRequest = {
          path: req.url ?? '',
          headers: req.headers,
          body: chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined,
        };
        if (req.method !== 'POST' || request.path !== fake.route) {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"no route"}}');
          return;
        }
        fake.requests.push(request);
        const responder = fake.queue.shift() ?? fake.fallback;
        const reply = responder
          ? fake.review(request, responder(request))
          : { status: 500, body: { error: { message: 'unscripted' } } };
        const hang = () =>
          res.on('close', () => {
            fake.abandoned.push(request);
            fake.onAbandon?.();
          });
        if (reply.hang) return hang();
        const status = reply.status ?? 200;
        if (request.body?.stream === true && status === 200) {
          const frames = fake.streamer(reply.body ?? {});
          if (reply.hangAfterEvents === undefined) {
            void fake.stream(res, frames, reply.chunkDelayMs ?? 0, true, reply.lastEventAfter);
          } else {
            hang();
            void fake.stream(res, frames.slice(0, reply.hangAfterEvents), reply.chunkDelayMs ?? 0, false);
          }
          return;
        }
        res
          .writeHead(status, { 'content-type': 'application/json', ...reply.headers })
          .end(JSON.stringify(reply.body ?? {}));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.port = (server.address() as AddressInfo).port;
    return fake;
  }

  private async stream(
    res: ServerResponse,
    frames: string[],
    delayMs: number,
    end = true,
    lastAfter?: Promise<unknown>,
  ): Promise<void> {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const [index, frame] of frames.entries()) {
      if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (index === frames.length - 1) await lastAfter;
      if (res.destroyed) return;
      res.write(frame);
      this.framesSent.push({ frame, at: Date.now() });
    }
    if (end) res.end();
  }

  /** Still valid after close, for tests that need a port nobody listens on. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Queues one-shot answers for the next requests, in order. */
  reply(...responders: (Responder | FakeReply)[]): this {
    for (const r of responders) this.queue.push(typeof r === 'function' ? r : () => r);
    return this;
  }

  /** Resolves once some client abandoned a hanging request. */
  abandonment(): Promise<void> {
    if (this.abandoned.length > 0) return Promise.resolve();
    return new Promise((resolve) => (this.onAbandon = resolve));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
