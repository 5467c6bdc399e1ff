/**
 * `tao ui`'s HTTP server: the page's static files (ui/ in the package, served
 * from disk, no CDN) and a small JSON API over ./api. node:http and zod carry
 * it, as they carry the codec server: a dozen routes need no framework.
 *
 * Safety, since its actions steer real runs:
 * - loopback by default; any other address needs an auth token, sent by the
 *   page as `Authorization: Bearer` on every API call;
 * - a Host header naming another site is refused (DNS rebinding);
 * - an action (POST) needs JSON, the per-server CSRF token and, when the
 *   browser sends one, this server's own Origin: a cross-site form or fetch
 *   has none of them, and nothing here answers a CORS preflight;
 * - no secret goes to the page: runs' data only, never connection settings.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { extname, join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { OutcomeStore } from '../outcomes';
import type { SessionStore } from '../stores/session-store';
import { ZodError } from 'zod';
import { InputError } from '../config/data-file';
import { describeZodError } from '../contracts';
import { listen, readBody, sameSecret, urlHost } from '../local/http-server';
import {
  ACTIONS,
  ClosedRuns,
  DEFAULT_RUNS_PAGE_SIZE,
  NotFound,
  RunsFilterSchema,
  inbox,
  listRuns,
  outputHeads,
  runView,
  runCost,
  stepView,
  storeOf,
  timelineView,
} from './api';
import { OutcomesQuerySchema, outcomeAt, outcomesPage } from './outcomes';
import { streamStepEvents } from './step-stream';

/** The page's files: ui/ at the package root, beside src/ and dist/. */
export const STATIC_DIR = join(__dirname, '..', '..', 'ui');
const STATIC_FILES: Record<string, string> = {
  '/': 'index.html',
  '/app.js': 'app.js',
  '/dom.js': 'dom.js',
  '/views.js': 'views.js',
  '/step.js': 'step.js',
  '/stream.js': 'stream.js',
  '/timeline.js': 'timeline.js',
  '/outcomes.js': 'outcomes.js',
  '/style.css': 'style.css',
};
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};
const MAX_BODY_BYTES = 8 * 1024 * 1024;
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export interface UiServerOptions {
  client: Client;
  port: number;
  /** Default 127.0.0.1. Any other address needs `authToken`. */
  host?: string;
  authToken?: string;
  /** Names the page is also reached by through a proxy (`tao-ui.example.com`): Host headers accepted on loopback. */
  allowedHosts?: readonly string[];
  /** Runs on one page of the runs list (default 200); the page pages through the rest. */
  runsPageSize?: number;
  /** The Temporal Web UI the page links steps' events to, e.g. `http://localhost:8233`. */
  temporalUiUrl?: string;
  /** The checkpoint store the workers write step transcripts to; without it a step's page shows none. */
  store?: SessionStore;
  /** The outcome store beside it, where batch runs' workers put each step's outcome; without it a batch's page lists none. */
  outcomes?: OutcomeStore;
}

export interface UiServer {
  url: string;
  close(): Promise<void>;
}

/** Refuses to serve the API off loopback without a token; checked before a client connects. */
export function refuseOpenAddress(host: string, authToken: string | undefined): void {
  if (!LOOPBACK.has(host) && !authToken) {
    throw new InputError(
      `listening on ${host} (not loopback) needs --auth-token (or TAO_UI_AUTH_TOKEN); see docs/ui.md for TLS`,
    );
  }
}

export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const host = options.host ?? '127.0.0.1';
  refuseOpenAddress(host, options.authToken);
  const csrf = randomBytes(24).toString('base64url');
  const closed = new ClosedRuns();
  const bearer = options.authToken ? Buffer.from(`Bearer ${options.authToken}`) : undefined;

  // On loopback, a page from another site that renamed itself to 127.0.0.1 (DNS rebinding) still sends its own
  // name as Host; elsewhere the auth token, which such a page lacks, guards the API.
  const names = new Set([...LOOPBACK, ...(options.allowedHosts ?? [])]);
  const allowedHost = (header: string | undefined) =>
    !LOOPBACK.has(host) || names.has((header ?? '').replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1'));

  const server = createServer((request, response) => {
    response.setHeader('X-Content-Type-Options', 'nosniff');
    response.setHeader('Referrer-Policy', 'no-referrer');
    if (!allowedHost(request.headers.host)) return send(response, 421, { error: 'unknown Host header' });
    void route(request, response).catch((error: unknown) => {
      const message = error instanceof ZodError ? describeZodError(error) : (error as Error).message;
      const status =
        error instanceof ZodError || error instanceof SyntaxError
          ? 400
          : error instanceof NotFound
            ? 404
            : 409;
      send(response, status, { error: message.split('\n')[0] });
    });
  });

  async function route(request: IncomingMessage, response: ServerResponse) {
    const url = new URL(request.url ?? '/', 'http://ui');
    const path = url.pathname;
    if (request.method === 'GET' && STATIC_FILES[path]) return serveStatic(response, STATIC_FILES[path]);
    if (!path.startsWith('/api/')) return send(response, 404, { error: `not found: ${path}` });
    if (bearer && !sameSecret(request.headers.authorization, bearer)) {
      return send(response, 401, {
        error: 'unauthorized: open the page as <its address>/#/runs?token=<the auth token>',
      });
    }
    const parts = path.split('/').slice(2).map(decodeURIComponent);
    const client = options.client;
    if (request.method === 'GET') {
      if (path === '/api/session') {
        return send(response, 200, {
          csrf,
          namespace: client.options.namespace,
          ...(options.temporalUiUrl ? { temporalUiUrl: options.temporalUiUrl } : {}),
        });
      }
      if (path === '/api/runs') {
        const filter = RunsFilterSchema.parse(Object.fromEntries(url.searchParams));
        return send(
          response,
          200,
          await listRuns(client, filter, options.runsPageSize ?? DEFAULT_RUNS_PAGE_SIZE),
        );
      }
      if (path === '/api/inbox') return send(response, 200, await inbox(client));
      if (parts[0] === 'runs' && parts.length === 2)
        return send(response, 200, await runView(client, parts[1]!, closed));
      if (parts[0] === 'runs' && parts[2] === 'outputs' && parts.length === 3)
        return send(response, 200, await outputHeads(client, parts[1]!, closed));
      if (parts[0] === 'runs' && parts[2] === 'cost' && parts.length === 3)
        return send(response, 200, await runCost(client, parts[1]!, closed));
      if (parts[0] === 'runs' && parts[2] === 'timeline' && parts.length === 3)
        return send(response, 200, await timelineView(client, parts[1]!, closed));
      // A batch run's outcomes, a page at a time from the outcome store, and one of them whole.
      if (parts[0] === 'runs' && parts[2] === 'outcomes' && parts.length === 3) {
        const query = OutcomesQuerySchema.parse(Object.fromEntries(url.searchParams));
        return send(response, 200, await outcomesPage(storeOf(options.outcomes), parts[1]!, query));
      }
      if (parts[0] === 'runs' && parts[2] === 'outcomes' && parts.length === 4)
        return send(response, 200, await outcomeAt(storeOf(options.outcomes), parts[1]!, parts[3]!));
      if (parts[0] === 'runs' && parts[2] === 'steps' && parts.length === 4) {
        return send(response, 200, await stepView(client, parts[1]!, parts[3]!));
      }
      // A step's transcript, pushed as it lands (Server-Sent Events); a reconnect sends Last-Event-ID.
      if (parts[0] === 'runs' && parts[2] === 'steps' && parts[4] === 'events' && parts.length === 5) {
        return streamStepEvents(request, response, {
          client,
          store: storeOf(options.store),
          workflowId: parts[1]!,
          taskId: parts[3]!,
        });
      }
      return send(response, 404, { error: `not found: ${path}` });
    }
    if (request.method !== 'POST') return send(response, 405, { error: 'GET or POST only' });
    const origin = request.headers.origin;
    if (origin !== undefined && origin.replace(/^https?:\/\//, '') !== request.headers.host) {
      return send(response, 403, { error: 'cross-site request refused' });
    }
    if (
      !request.headers['content-type']?.startsWith('application/json') ||
      !sameSecret(request.headers['x-tao-csrf'] as string, Buffer.from(csrf))
    ) {
      return send(response, 403, { error: 'cross-site request refused: reload the page' });
    }
    const action = ACTIONS[parts[2] as keyof typeof ACTIONS];
    if (parts[0] !== 'runs' || parts.length !== 3 || !action) {
      return send(response, 404, { error: `no action at ${path}` });
    }
    const body: unknown = JSON.parse((await readBody(request, MAX_BODY_BYTES)) || '{}');
    return send(response, 200, { ok: true, result: (await action(client, parts[1]!, body)) ?? null });
  }

  const { address, close } = await listen(server, options.port, host);
  return { url: `http://${urlHost(host)}:${address.port}`, close };
}

async function serveStatic(response: ServerResponse, file: string) {
  const body = await readFile(join(STATIC_DIR, file));
  response.writeHead(200, {
    'content-type': TYPES[extname(file)]!,
    // The page runs only its own scripts: model output can never become code.
    'content-security-policy':
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    'cache-control': 'no-cache',
  });
  response.end(body);
}

function send(response: ServerResponse, status: number, body: unknown) {
  // An event stream that failed after it began can only be ended.
  if (response.headersSent) return void response.end();
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  response.end(JSON.stringify(body));
}
