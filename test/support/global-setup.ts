/**
 * Once per test run: make sure the Temporal binaries exist, start one shared
 * dev server on loopback, and bundle the workflow code once for every worker.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startDevServer } from '../../src/local/dev-server';
import { ensureTemporalBinaries, taoHome } from '../../src/local/temporal-binaries';

export default async function globalSetup(): Promise<void> {
  const binaries = ensureTemporalBinaries();
  const server = await startDevServer({ cli: binaries.cli });
  (globalThis as { taoDevServer?: unknown }).taoDevServer = server;

  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('./test-workflows'),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
  });
  const dir = join(taoHome(), 'test');
  mkdirSync(dir, { recursive: true });
  // Per run, so concurrent test runs on one checkout never read a half-written bundle.
  const bundlePath = join(dir, `workflow-bundle-${process.pid}.js`);
  writeFileSync(bundlePath, code);

  process.env.TAO_TEST_TEMPORAL_ADDRESS = server.address;
  process.env.TAO_TEST_BUNDLE = bundlePath;
  process.env.TEMPORAL_CLI_PATH = binaries.cli;
  process.env.TEMPORAL_TEST_SERVER_PATH = binaries.testServer;
}
