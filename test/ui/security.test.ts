/**
 * What keeps `tao ui`'s actions to its own page: the auth token off loopback,
 * the CSRF token and Origin check on actions, the Host check against DNS
 * rebinding, and a page that runs only its own scripts. Real servers, real
 * HTTP; and `tao dev` serving the page beside the Temporal Web UI, decoding
 * encrypted payloads through TAO's codec, over HTTP and in Chromium.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyLine } from '../../src/codec';
import { freePort } from '../../src/local/dev-server';
import { startUiServer } from '../../src/ui/server';
import { launchChromium } from '../support/chromium';
import { startTao, stopTaoProcesses, tao } from '../support/cli';
import { closeDevClient, devClient, uniqueId } from '../support/temporal';

afterAll(async () => {
  await stopTaoProcesses();
  await closeDevClient();
});

/** A raw request, so Host and Origin are what the test says (fetch would set them itself). */
function call(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const req = request(url, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      });
      req.once('error', reject);
      req.end(options.body);
    },
  );
}

test('actions need the CSRF token, JSON and a same-site Origin; a rebinding Host is refused; the page runs only its own scripts', async () => {
  const ui = await startUiServer({ client: await devClient(), port: 0 });
  try {
    const page = await call(`${ui.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    const { csrf } = JSON.parse((await call(`${ui.url}/api/session`)).body) as { csrf: string };
    const pause = `${ui.url}/api/runs/${uniqueId('absent')}/pause`;
    const json = { 'content-type': 'application/json' };
    const host = new URL(ui.url).host;

    const noToken = await call(pause, { method: 'POST', headers: json, body: '{}' });
    expect([noToken.status, JSON.parse(noToken.body).error]).toEqual([
      403,
      'cross-site request refused: reload the page',
    ]);
    const form = await call(pause, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-tao-csrf': csrf },
      body: 'a=1',
    });
    expect(form.status).toBe(403);
    const crossSite = await call(pause, {
      method: 'POST',
      headers: { ...json, 'x-tao-csrf': csrf, origin: 'https://evil.example' },
      body: '{}',
    });
    expect([crossSite.status, JSON.parse(crossSite.body).error]).toEqual([403, 'cross-site request refused']);
    // A message to an agent is an action like any other.
    const message = await call(pause.replace(/pause$/, 'message'), {
      method: 'POST',
      headers: json,
      body: '{"taskId":"a","text":"hi"}',
    });
    expect(message.status).toBe(403);
    // A step's event stream reads the workers' store: a server not told it says so.
    const events = await call(`${ui.url}/api/runs/${uniqueId('absent')}/steps/a%2Fb/events`);
    expect([events.status, JSON.parse(events.body).error]).toEqual([
      404,
      'tao ui was started without the store the workers write to (--store)',
    ]);
    const rebound = await call(`${ui.url}/api/session`, {
      headers: { host: `evil.example:${new URL(ui.url).port}` },
    });
    expect(rebound.status).toBe(421);
    // A name the page is served under through a TLS proxy, once allowed, is not a rebinding.
    const proxied = await startUiServer({
      client: await devClient(),
      port: 0,
      allowedHosts: ['tao-ui.example.com'],
    });
    try {
      const headers = { host: 'tao-ui.example.com' };
      const session = await call(`${proxied.url}/api/session`, { headers });
      expect(session.status).toBe(200);
      const viaProxy = await call(`${proxied.url}/api/runs/${uniqueId('absent')}/pause`, {
        method: 'POST',
        headers: {
          ...headers,
          ...json,
          origin: 'https://tao-ui.example.com',
          'x-tao-csrf': JSON.parse(session.body).csrf,
        },
        body: '{}',
      });
      expect(viaProxy.status).toBe(409);
    } finally {
      await proxied.close();
    }

    // With all three, the action reaches Temporal, which names what is wrong.
    const sent = await call(pause, {
      method: 'POST',
      headers: { ...json, 'x-tao-csrf': csrf, origin: `http://${host}` },
      body: '{}',
    });
    expect(sent.status).toBe(409);
    expect(JSON.parse(sent.body).error).toMatch(/not found/i);
    // A body the page would never send is refused before Temporal is asked, naming what is wrong.
    const headers = { ...json, 'x-tao-csrf': csrf };
    const concurrency = pause.replace(/pause$/, 'concurrency');
    const broken = await call(concurrency, { method: 'POST', headers, body: '{"limit":' });
    expect(broken.status).toBe(400);
    const zero = await call(concurrency, { method: 'POST', headers, body: '{"limit":0}' });
    expect([zero.status, JSON.parse(zero.body).error]).toEqual([
      400,
      'limit: Number must be greater than or equal to 1',
    ]);
  } finally {
    await ui.close();
  }
});

test('off loopback the API needs the auth token; without one, `tao ui` refuses to start, saying what to add', async () => {
  const token = 'a-long-random-token-for-the-test';
  const ui = await startUiServer({ client: await devClient(), port: 0, host: '0.0.0.0', authToken: token });
  try {
    const url = ui.url.replace('0.0.0.0', '127.0.0.1');
    expect((await call(`${url}/api/runs`)).status).toBe(401);
    expect((await call(`${url}/api/runs`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await call(`${url}/api/runs`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(
      200,
    );
    expect((await call(`${url}/api/runs/r/steps/s/events`)).status).toBe(401);
    // The page itself holds no secret and loads without it.
    expect((await call(`${url}/app.js`)).status).toBe(200);
  } finally {
    await ui.close();
  }
  const refused = await tao(['ui', '--host', '0.0.0.0', '--port', String(await freePort())]);
  expect(refused.code).toBe(2);
  expect(refused.stderr.trim()).toBe(
    'tao: listening on 0.0.0.0 (not loopback) needs --auth-token (or TAO_UI_AUTH_TOKEN); see docs/ui.md for TLS',
  );
});

test('tao dev serves the page beside the Web UI, with encrypted payloads decoded through TAO’s codec', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tao-ui-dev-'));
  const [port, uiPort, taoUiPort] = [await freePort(), await freePort(), await freePort()];
  const env = { TAO_ENCRYPTION_KEYS: generateKeyLine('ui'), TAO_BLOBS: join(dir, 'blobs') };
  const dev = startTao(
    [
      'dev',
      '--port',
      String(port),
      '--ui-port',
      String(uiPort),
      '--tao-ui-port',
      String(taoUiPort),
      '--db',
      join(dir, 'dev.db'),
    ],
    { env },
  );
  try {
    await dev.waitFor(`TAO UI at http://127.0.0.1:${taoUiPort}/`, 60_000);
    const workflowId = uniqueId('ui-dev');
    const spec = join(dir, 'spec.json');
    writeFileSync(
      spec,
      JSON.stringify({
        workflow: 'parallel',
        id: workflowId,
        input: { specs: [{ taskId: 'sealed', agent: 'a', prompt: 'SEALED-PROMPT' }] },
      }),
    );
    expect((await tao(['run', spec, '--address', `127.0.0.1:${port}`], { env })).code).toBe(0);
    const base = `http://127.0.0.1:${taoUiPort}`;
    const runs = JSON.parse((await call(`${base}/api/runs?status=Completed`)).body) as {
      runs: { workflowId: string }[];
    };
    expect(runs.runs.map((r) => r.workflowId)).toContain(workflowId);
    const step = JSON.parse((await call(`${base}/api/runs/${workflowId}/steps/sealed`)).body);
    expect([step.prompt, step.outcome.output]).toEqual(['SEALED-PROMPT', 'SEALED-PROMPT']);
    // The page reads steps' transcripts from the worker's store: a script step keeps none, and its stream ends.
    const events = await call(`${base}/api/runs/${workflowId}/steps/sealed/events`);
    expect([events.status, events.headers['content-type']]).toEqual([
      200,
      'text/event-stream; charset=utf-8',
    ]);
    expect(events.body).toMatch(/^event: end\ndata: \{"reason":"the step is no longer running"\}\n\n$/m);
    const session = JSON.parse((await call(`${base}/api/session`)).body);
    expect(session.temporalUiUrl).toBe(`http://localhost:${uiPort}`);
    expect(JSON.stringify(session)).not.toContain(env.TAO_ENCRYPTION_KEYS);

    // And in a browser: the address tao dev printed opens on the runs list, the run in it, its step's output decoded.
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${base}/`);
      await page.getByRole('heading', { name: 'Runs' }).waitFor();
      await page.getByRole('region', { name: 'Runs found' }).getByRole('link', { name: workflowId }).click();
      const row = page.getByRole('row', { name: /sealed/ });
      await row.getByText('succeeded').waitFor();
      await row.getByRole('link', { name: 'sealed' }).click();
      const detail = page.getByRole('region', { name: 'Step detail' });
      await expect(detail.locator('pre').last().textContent()).resolves.toBe('SEALED-PROMPT');
    } finally {
      await browser.close();
    }
  } finally {
    await dev.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
