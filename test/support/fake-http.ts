/**
 * A scripted HTTP endpoint on loopback: the base of the fake model
 * providers. Each request is answered by the next queued responder (else the
 * fallback), and every request is recorded so tests can check what the
 * executor actually sent over the wire.
 */
import { type IncomingMessage, type Server, createServer } from 'node:http';
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
}

export type Responder = (request: FakeRequest) => FakeReply;

export class FakeServer {
  readonly requests: FakeRequest[] = [];
  /** Requests whose client closed the connection before an answer. */
  readonly abandoned: FakeRequest[] = [];
  private readonly queue: Responder[] = [];
  private onAbandon?: () => void;

  private port = 0;

  private constructor(
    private readonly server: Server,
    private readonly route: string,
    private readonly fallback?: Responder,
  ) {}

  static async start(route: string, fallback?: Responder): Promise<FakeServer> {
    const server = createServer();
    const fake = new FakeServer(server, route, fallback);
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
          ? responder(request)
          : { status: 500, body: { error: { message: 'unscripted' } } };
        if (reply.hang) {
          res.on('close', () => {
            fake.abandoned.push(request);
            fake.onAbandon?.();
          });
          return;
        }
        res
          .writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers })
          .end(JSON.stringify(reply.body ?? {}));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.port = (server.address() as AddressInfo).port;
    return fake;
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
