import type { DevServer } from '../../src/local/dev-server';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { taoDevServer?: DevServer }).taoDevServer?.stop();
}
