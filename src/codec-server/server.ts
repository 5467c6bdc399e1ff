/**
 * Temporal's remote codec protocol, so the Temporal CLI (`--codec-endpoint`)
 * and Web UI (`--ui-codec-endpoint`, or its codec settings) show payloads as
 * TAO wrote them: `POST /encode` and `POST /decode` (also under a
 * `/<namespace>/` prefix) with `{"payloads": [...]}` in protobuf's JSON form.
 * It runs the same codec chain as the workers, so offloaded payloads are
 * fetched and encrypted ones decrypted, for whoever holds the auth token.
 */
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import { listen, readBody, sameSecret, urlHost } from '../local/http-server';

export interface CodecServerOptions {
  codecs: PayloadCodec[];
  port: number;
  /** Default 127.0.0.1: expose it deliberately, behind TLS and a token. */
  host?: string;
  /** Web origins allowed to call it from a browser (the Web UI's), e.g. `http://localhost:8233`. */
  corsOrigins?: readonly string[];
  /** When set, every call must carry `Authorization: Bearer <token>`. */
  authToken?: string;
}

export interface CodecServer {
  url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 64 * 1024 * 1024;
const ROUTE = /^\/(?:[^/]+\/)?(encode|decode)\/?$/;

const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const BodySchema = z.object({
  payloads: z.array(z.object({ metadata: z.record(Base64).optional(), data: Base64.optional() })),
});

const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'base64'));
const base64 = (data: Uint8Array | null | undefined) =>
  Buffer.from(data ?? new Uint8Array()).toString('base64');

function fromJson(body: z.infer<typeof BodySchema>): Payload[] {
  return body.payloads.map((p) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, bytes(v)])),
    data: bytes(p.data ?? ''),
  }));
}

function toJson(payloads: Payload[]) {
  return {
    payloads: payloads.map((p) => ({
      metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, base64(v)])),
      data: base64(p.data),
    })),
  };
}

/** Temporal applies codecs first to last on encode and last to first on decode; so does this server. */
async function run(codecs: PayloadCodec[], operation: 'encode' | 'decode', payloads: Payload[]) {
  let result = payloads;
  const order = operation === 'encode' ? codecs : [...codecs].reverse();
  for (const codec of order) result = await codec[operation](result);
  return result;
}

export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const origins = new Set(options.corsOrigins ?? []);
  const token = options.authToken ? Buffer.from(`Bearer ${options.authToken}`) : undefined;
  const authorized = (header: string | undefined) => !token || sameSecret(header, token);

  const server = createServer((request, response) => {
    const origin = request.headers.origin;
    if (origin && origins.has(origin)) {
      response.setHeader('Access-Control-Allow-Origin', origin);
      response.setHeader('Access-Control-Allow-Credentials', 'true');
      response.setHeader('Vary', 'Origin');
    }
    if (request.method === 'OPTIONS') {
      // Preflight carries no credentials by design; the real request is checked.
      response.writeHead(204, {
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': 'content-type, x-namespace, authorization',
        'Access-Control-Max-Age': '600',
      });
      response.end();
      return;
    }
    const route = ROUTE.exec(request.url?.split('?')[0] ?? '');
    if (request.method !== 'POST' || !route)
      return reply(response, 404, 'not found: POST /encode or /decode');
    if (!authorized(request.headers.authorization)) {
      return reply(response, 401, 'unauthorized: send Authorization: Bearer <the codec server token>');
    }
    void handle(request, response, route[1] as 'encode' | 'decode');
  });

  async function handle(request: IncomingMessage, response: ServerResponse, operation: 'encode' | 'decode') {
    let body: z.infer<typeof BodySchema>;
    try {
      const parsed = BodySchema.safeParse(JSON.parse(await readBody(request, MAX_BODY_BYTES)));
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        return reply(response, 400, `bad request: ${issue.path.join('.') || 'body'}: ${issue.message}`);
      }
      body = parsed.data;
    } catch (error) {
      return reply(response, 400, `bad request: ${(error as Error).message.split('\n')[0]}`);
    }
    try {
      const result = await run(options.codecs, operation, fromJson(body));
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(toJson(result)));
    } catch (error) {
      // The codecs' own messages name the blob or key id and never a secret.
      reply(response, 422, `cannot ${operation}: ${(error as Error).message.split('\n')[0]}`);
    }
  }

  const { address, close } = await listen(server, options.port, options.host ?? '127.0.0.1');
  return { url: `http://${urlHost(address.address)}:${address.port}`, close };
}

function reply(response: ServerResponse, status: number, message: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${message}\n`);
}
