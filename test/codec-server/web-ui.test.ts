/**
 * What a person sees: the Temporal Web UI of a dev server started as `tao dev`
 * starts it (with --ui-codec-endpoint), opened in headless Chromium. The
 * workflow page shows the decoded text of an offloaded, encrypted 300 KB
 * output, not a claim-check reference. The screenshot is kept in docs/.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { chromium } from 'playwright-core';
import { generateKeyLine, loadKeyRing, taoDataConverter, taoPayloadCodecs } from '../../src/codec';
import { startCodecServer } from '../../src/codec-server';
import { ScriptExecutor } from '../../src/executors/script';
import { freePort, startDevServer } from '../../src/local/dev-server';
import { taoHome } from '../../src/local/temporal-binaries';
import { MemorySessionStore } from '../../src/stores/memory-store';
import { createTaoWorker } from '../../src/worker';
import { uniqueId, workflowBundle } from '../support/temporal';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = join(__dirname, '..', '..');

test('the Web UI shows the decoded result of an offloaded, encrypted output', async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does)`);
  const dir = mkdtempSync(join(tmpdir(), 'tao-web-ui-'));
  const settings = { blobs: join(dir, 'blobs'), encryption: loadKeyRing({ keys: generateKeyLine('ui') })! };
  const uiPort = await freePort();
  const codec = await startCodecServer({
    codecs: taoPayloadCodecs(settings),
    port: 0,
    corsOrigins: [`http://localhost:${uiPort}`, `http://127.0.0.1:${uiPort}`],
  });
  const server = await startDevServer({
    cli: process.env.TEMPORAL_CLI_PATH!,
    uiPort,
    uiCodecEndpoint: codec.url,
  });
  const connection = await NativeConnection.connect({ address: server.address });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const dataConverter = taoDataConverter(settings);
    const taskQueue = uniqueId('web-ui');
    const marker = 'DECODED-IN-THE-WEB-UI';
    const executor = new ScriptExecutor({
      default: { output: `${marker}: ${'a long review. '.repeat(20_000)}` },
    });
    const worker = await createTaoWorker({
      connection,
      executor,
      store: new MemorySessionStore(),
      taskQueue,
      workflowBundle: workflowBundle(),
      dataConverter,
    });
    const client = new Client({ connection, dataConverter });
    const workflowId = uniqueId('web-ui');
    await worker.runUntil(
      client.workflow.execute('parallelWorkflow', {
        taskQueue,
        workflowId,
        args: [{ specs: [{ taskId: 'review:src/a.ts', agent: 'review', prompt: 'review src/a.ts' }] }],
      }),
    );

    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${server.uiUrl}/namespaces/default/workflows/${workflowId}`);
    await page.getByText(marker).first().waitFor({ timeout: 60_000 });
    const shot = process.env.TAO_UPDATE_DOCS_SCREENSHOT
      ? join(ROOT, 'docs', 'web-ui-decoded-result.png')
      : join(taoHome(), 'test', 'web-ui-decoded-result.png');
    mkdirSync(join(shot, '..'), { recursive: true });
    await page.screenshot({ path: shot });
    expect(await page.content()).not.toContain('tao-claim-check');
  } finally {
    await browser.close();
    await connection.close();
    await server.stop();
    await codec.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
