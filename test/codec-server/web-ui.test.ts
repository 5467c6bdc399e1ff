/**
 * What a person sees: the Temporal Web UI of a real `tao dev` (which starts a
 * codec server and gives the UI --ui-codec-endpoint), opened in headless Chromium. The
 * workflow page shows the decoded text of an offloaded, encrypted 300 KB
 * output, not a claim-check reference. The screenshot is kept in docs/.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { generateKeyLine } from '../../src/codec';
import { freePort } from '../../src/local/dev-server';
import { taoHome } from '../../src/local/temporal-binaries';
import { startTao, tao } from '../support/cli';
import { uniqueId } from '../support/temporal';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = join(__dirname, '..', '..');

test('tao dev: its Web UI shows the decoded result of an offloaded, encrypted output', async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does)`);
  const dir = mkdtempSync(join(tmpdir(), 'tao-web-ui-'));
  const keys = generateKeyLine('ui');
  const [port, uiPort] = [await freePort(), await freePort()];
  const marker = 'DECODED-IN-THE-WEB-UI';
  const rules = join(dir, 'rules.json');
  writeFileSync(
    rules,
    JSON.stringify({ default: { output: `${marker}: ${'a long review. '.repeat(20_000)}` } }),
  );
  const env = { TAO_ENCRYPTION_KEYS: keys, TAO_BLOBS: join(dir, 'blobs') };
  const dev = startTao(
    [
      'dev',
      '--port',
      String(port),
      '--ui-port',
      String(uiPort),
      '--db',
      join(dir, 'dev.db'),
      '--executor',
      `script:${rules}`,
    ],
    { env },
  );
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    await dev.waitFor('payloads decoded by the codec server at', 60_000);
    const spec = join(dir, 'spec.json');
    const workflowId = uniqueId('web-ui');
    writeFileSync(
      spec,
      JSON.stringify({
        workflow: 'parallel',
        id: workflowId,
        input: { specs: [{ taskId: 'review:src/a.ts', agent: 'review', prompt: 'review src/a.ts' }] },
      }),
    );
    const run = await tao(['run', spec, '--address', `127.0.0.1:${port}`], { env });
    expect(run.code).toBe(0);

    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`http://localhost:${uiPort}/namespaces/default/workflows/${workflowId}`);
    await page.getByText(marker).first().waitFor({ timeout: 60_000 });
    const shot = process.env.TAO_UPDATE_DOCS_SCREENSHOT
      ? join(ROOT, 'docs', 'web-ui-decoded-result.png')
      : join(taoHome(), 'test', 'web-ui-decoded-result.png');
    mkdirSync(join(shot, '..'), { recursive: true });
    await page.screenshot({ path: shot });
    expect(await page.content()).not.toContain('tao-claim-check');
  } finally {
    await browser.close();
    await dev.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
