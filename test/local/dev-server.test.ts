/**
 * The dev server behind `tao dev`, on one history file: a restart straight
 * after a stop waits for the old server to let go of it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevServer } from '../../src/local/dev-server';
import { ensureTemporalBinaries } from '../../src/local/temporal-binaries';

const cli = ensureTemporalBinaries().cli;
const dbFile = join(mkdtempSync(join(tmpdir(), 'tao-dev-server-')), 'dev.db');

test('a restart while the last server on the file is still shutting down starts once the file is free', async () => {
  const first = await startDevServer({ cli, dbFile });
  const stopping = first.stop();
  const second = await startDevServer({ cli, dbFile });
  await stopping;
  await second.stop();
}, 60_000);
