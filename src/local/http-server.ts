/**
 * What TAO's two small HTTP servers (the codec server and `tao ui`) share:
 * starting and stopping, a request body read within a bound, and comparing a
 * secret the client sent without leaking its length-matched prefix by timing.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Resolves once `server` listens on `host:port` (0: a free port), with where it bound and a close that drops open connections. */
export async function listen(
  server: Server,
  port: number,
  host: string,
): Promise<{ address: AddressInfo; close: () => Promise<void> }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `host` as a URL writes it: an IPv6 address in brackets. */
export const urlHost = (host: string): string => (host.includes(':') ? `[${host}]` : host);

/** The request's body as text; past `maxBytes` it rejects and drops the request, reading no more. */
export function readBody(request: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new Error(`body over ${maxBytes} bytes`));
        request.destroy();
      } else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** Whether the client sent exactly `expected` (an auth header, a CSRF token), compared in constant time. */
export function sameSecret(given: string | undefined, expected: Buffer): boolean {
  const buffer = Buffer.from(given ?? '');
  return buffer.length === expected.length && timingSafeEqual(buffer, expected);
}
