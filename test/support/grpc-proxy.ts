/**
 * A TLS-terminating gRPC proxy on loopback, in front of the dev server: what
 * a secured Temporal endpoint looks like from a client. It speaks HTTP/2 over
 * TLS (ALPN h2), optionally requires a client certificate signed by the test
 * CA, forwards each stream to the plaintext dev server, and records the
 * request headers it saw (so a test can check where an API key went).
 */
import {
  type ClientHttp2Session,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
  connect,
  constants,
  createSecureServer,
} from 'node:http2';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

export interface GrpcProxyOptions {
  /** host:port of the plaintext server behind the proxy. */
  target: string;
  serverCert: string;
  serverKey: string;
  /** Require a client certificate signed by this CA (mTLS). */
  clientCa?: string;
}

export interface GrpcProxy {
  address: string;
  /** Headers of every request forwarded so far. */
  seen: IncomingHttpHeaders[];
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([':authority', ':scheme', 'connection', 'host']);

export async function startGrpcProxy(options: GrpcProxyOptions): Promise<GrpcProxy> {
  const seen: IncomingHttpHeaders[] = [];
  const open = new Set<{ destroy(): void }>();
  const upstreams = new WeakMap<object, ClientHttp2Session>();
  const server = createSecureServer({
    cert: readFileSync(options.serverCert),
    key: readFileSync(options.serverKey),
    ALPNProtocols: ['h2'],
    ...(options.clientCa
      ? { ca: readFileSync(options.clientCa), requestCert: true, rejectUnauthorized: true }
      : {}),
  });
  // One upstream session per downstream one, as a real proxy multiplexes a connection's streams.
  server.on('session', (session) => {
    const upstream = connect(`http://${options.target}`);
    upstream.on('error', () => session.destroy());
    upstreams.set(session, upstream);
    open.add(session).add(upstream);
    session.on('close', () => {
      upstream.close();
      open.delete(session);
      open.delete(upstream);
    });
  });
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    seen.push(headers);
    const upstreamSession = upstreams.get(stream.session!)!;
    const forwarded: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) {
      if (!HOP_BY_HOP.has(name)) forwarded[name] = value;
    }
    const upstream = upstreamSession.request(forwarded);
    let trailers: OutgoingHttpHeaders = {};
    upstream.on('trailers', (received) => (trailers = received));
    upstream.on('response', (response, flags) => {
      const endsHere = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      if (stream.destroyed) return;
      stream.respond(response, endsHere ? { endStream: true } : { waitForTrailers: true });
      if (!endsHere) stream.once('wantTrailers', () => stream.sendTrailers(trailers));
      upstream.pipe(stream);
    });
    upstream.on('error', () => stream.destroyed || stream.close(constants.NGHTTP2_INTERNAL_ERROR));
    stream.on('error', () => upstream.close(constants.NGHTTP2_CANCEL));
    stream.on('close', () => upstream.destroyed || upstream.close(constants.NGHTTP2_CANCEL));
    stream.pipe(upstream);
  });
  // A refused handshake (no or wrong client certificate) is the point of some tests, not an error here.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    seen,
    close: async () => {
      for (const session of open) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
