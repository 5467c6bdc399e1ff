/**
 * The dev server behind `tao dev`, on one history file: a restart straight
 * after a stop waits for the old server to let go of it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startDevServer } from '../../src/local/dev-server';
import { ensureTemporalBinaries } from '../../src/local/temporal-binaries';

const cli = ensureTemporalBinaries().cli;
const dbFile = join(mkdtempSync(join(tmpdir(), 'tao-dev-server-')), 'dev.db');

/** Runs `use` with a client of the server at `address`, closing the connection after. */
async function withClient<T>(address: string, use: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address });
  try {
    return await use(new Client({ connection }));
  } finally {
    await connection.close();
  }
}

test('a restart while the last server on the file is still shutting down starts once the file is free', async () => {
  const first = await startDevServer({ cli, dbFile });
  // A run no worker picks up: it stays open in the history file.
  const workflowId = `dev-server-${process.pid}`;
  await withClient(first.address, (client) =>
    client.workflow.start('nobodyRunsThis', { taskQueue: 'dev-server-test', workflowId }),
  );
  const stopping = first.stop();
  const second = await startDevServer({ cli, dbFile });
  try {
    await stopping;
    // The second server serves the same file: the first one's run is there, still open.
    const described = await withClient(second.address, (client) =>
      client.workflow.getHandle(workflowId).describe(),
    );
    expect({ type: described.type, status: described.status.name }).toEqual({
      type: 'nobodyRunsThis',
      status: 'RUNNING',
    });
  } finally {
    await second.stop();
  }
}, 60_000);
