/**
 * Debian's Chromium for the browser tests (test/ui/), driven by
 * playwright-core, and screenshots of the page: docs/ when
 * TAO_UPDATE_DOCS_SCREENSHOT is set, else the test's own folder.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { taoHome } from '../../src/local/temporal-binaries';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** One browser for a test file's tests, launched before them and closed after. */
export function chromiumPerFile(): { browser: Browser } {
  const fixture = {} as { browser: Browser };
  beforeAll(async () => {
    fixture.browser = await launchChromium();
  });
  afterAll(() => fixture.browser?.close());
  return fixture;
}

export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does)`);
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/** The whole page as `ui-<name>.png`. */
export async function screenshot(page: Page, name: string) {
  const path = process.env.TAO_UPDATE_DOCS_SCREENSHOT
    ? join(__dirname, '..', '..', 'docs', `ui-${name}.png`)
    : join(taoHome(), 'test', `ui-${name}.png`);
  mkdirSync(join(path, '..'), { recursive: true });
  await page.screenshot({ path, fullPage: true });
}

/** The text of the element that has the keyboard focus. */
export const focused = (page: Page) =>
  page.evaluate(
    () =>
      (globalThis as unknown as { document: { activeElement: { textContent: string } | null } }).document
        .activeElement?.textContent,
  );
