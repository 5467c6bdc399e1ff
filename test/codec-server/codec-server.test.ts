/**
 * The codec server over real HTTP, and with the real Temporal CLI: `temporal
 * workflow result --codec-endpoint` prints an offloaded 300 KB output as
 * text, where without it the CLI shows only the claim-check reference.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import {
  CLAIM_CHECK_ENCODING,
  generateKeyLine,
  loadKeyRing,
  taoDataConverter,
  taoPayloadCodecs,
} from '../../src/codec';
import { type CodecServer, startCodecServer } from '../../src/codec-server';
import { ScriptExecutor } from '../../src/executors/script';
import { temporalCli } from '../support/temporal-cli';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const dir = mkdtempSync(join(tmpdir(), 'tao-codec-server-'));
const blobs = join(dir, 'blobs');
const encryption = loadKeyRing({ keys: generateKeyLine('k1') })!;
const UI = 'http://localhost:18233';
let server: CodecServer;

beforeAll(async () => {
  server = await startCodecServer({
    codecs: taoPayloadCodecs({ blobs, encryption }),
    port: 0,
    corsOrigins: [UI],
    authToken: 'codec-token-123',
  });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const auth = { authorization: 'Bearer codec-token-123' };
const post = (path: string, body: unknown, headers: Record<string, string> = auth) =>
  fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const asJson = (payload: { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }) => ({
  metadata: Object.fromEntries(
    Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  ),
  data: Buffer.from(payload.data ?? []).toString('base64'),
});

test('encode then decode round-trips, also under a namespace prefix; big payloads go to blobs', async () => {
  const text = `codec ${'x'.repeat(200_000)}`;
  const encoded = await post('/encode', { payloads: [asJson(defaultPayloadConverter.toPayload(text))] });
  expect(encoded.status).toBe(200);
  const sealed = (await encoded.json()) as { payloads: { metadata: Record<string, string> }[] };
  expect(Buffer.from(sealed.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe(CLAIM_CHECK_ENCODING);
  const decoded = await post('/default/decode', sealed);
  expect(decoded.status).toBe(200);
  const [plain] = ((await decoded.json()) as { payloads: { data: string }[] }).payloads;
  expect(JSON.parse(Buffer.from(plain!.data, 'base64').toString())).toBe(text);
});

test('CORS: preflight answered for the Web UI origin only; the token is required on calls', async () => {
  const preflight = await fetch(`${server.url}/decode`, {
    method: 'OPTIONS',
    headers: { origin: UI, 'access-control-request-headers': 'content-type,x-namespace,authorization' },
  });
  expect(preflight.status).toBe(204);
  expect(preflight.headers.get('access-control-allow-origin')).toBe(UI);
  expect(preflight.headers.get('access-control-allow-headers')).toContain('x-namespace');
  const stranger = await fetch(`${server.url}/decode`, {
    method: 'OPTIONS',
    headers: { origin: 'http://evil.example' },
  });
  expect(stranger.headers.get('access-control-allow-origin')).toBeNull();

  expect((await post('/decode', { payloads: [] }, {})).status).toBe(401);
  expect((await post('/decode', { payloads: [] }, { authorization: 'Bearer wrong-token-12' })).status).toBe(
    401,
  );
  expect((await post('/decode', { payloads: [] })).status).toBe(200);
});

test('bad requests get one line; a payload it cannot decode names the blob, never a secret', async () => {
  const notJson = await post('/decode', '{oops');
  expect(notJson.status).toBe(400);
  expect(await notJson.text()).toMatch(/^bad request: /);
  const badShape = await post('/decode', { payloads: [{ data: 'not base64!' }] });
  expect(await badShape.text()).toBe('bad request: payloads.0.data: must be base64\n');
  expect((await post('/nothing', {})).status).toBe(404);

  const key = `sha256-${'0'.repeat(64)}`;
  const missing = await post('/decode', {
    payloads: [
      {
        metadata: { encoding: Buffer.from(CLAIM_CHECK_ENCODING).toString('base64') },
        data: Buffer.from(JSON.stringify({ key, size: 10 })).toString('base64'),
      },
    ],
  });
  expect(missing.status).toBe(422);
  const message = await missing.text();
  expect(message).toContain(`cannot decode: payload blob ${key} not found`);
  expect(message).not.toContain('codec-token-123');
});

test('the Temporal CLI prints a 300 KB offloaded, encrypted output through --codec-endpoint', async () => {
  const dataConverter = taoDataConverter({ blobs, encryption });
  const marker = 'MARKER-FROM-A-VERY-LONG-ANSWER';
  const long = `${marker} ${'lorem ipsum '.repeat(25_000)}`;
  const executor = new ScriptExecutor({ default: { output: long } });
  const plain = await startCodecServer({ codecs: taoPayloadCodecs({ blobs, encryption }), port: 0 });
  try {
    await withWorker({ executor, dataConverter }, async ({ client: raw, taskQueue }) => {
      const client = new Client({ connection: raw.connection, dataConverter });
      const workflowId = uniqueId('codec-cli');
      await client.workflow.execute('parallelWorkflow', {
        taskQueue,
        workflowId,
        args: [{ specs: [{ taskId: 'long', agent: 'explore', prompt: 'say a lot' }] }],
      });
      const decoded = await temporalCli([
        'workflow',
        'result',
        '--workflow-id',
        workflowId,
        '--codec-endpoint',
        plain.url,
      ]);
      expect(decoded.code).toBe(0);
      expect(decoded.stdout).toContain(marker);
      expect(decoded.stdout.length).toBeGreaterThan(long.length);
      const opaque = await temporalCli(['workflow', 'result', '--workflow-id', workflowId]);
      expect(opaque.stdout).not.toContain(marker);
    });
  } finally {
    await plain.close();
  }
});
