import { rmSync } from 'node:fs';
import type { DevServer } from '../../src/local/dev-server';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { taoDevServer?: DevServer }).taoDevServer?.stop();
  if (process.env.TAO_TEST_BUNDLE) rmSync(process.env.TAO_TEST_BUNDLE, { force: true });
}
