/** `tao gc`: removes what runs closed past the retention left in the stores (src/client/gc.ts). */
import type { Command } from 'commander';
import { DEFAULT_RETENTION, collectGarbage, parseRetention } from '../../client';
import { type WorkerFlags, resolveWorkerConfig } from '../../config/worker-config';
import { clientFromFlags, connectionOptions, jsonOption, storeOption } from '../options';
import { garbageView } from '../render';

interface GcFlags extends WorkerFlags {
  olderThan: string;
  dryRun?: boolean;
  json?: boolean;
}

export function registerGc(program: Command): void {
  jsonOption(storeOption(connectionOptions(program.command('gc'))))
    .description(
      'remove the checkpoints, step states, expired cache entries, step transcripts, outcomes and payload blobs of runs closed more than --older-than ago; nothing an open run, or one closed since, may still use',
    )
    .option(
      '--older-than <duration>',
      'how long closed runs keep their state, e.g. 7d, 12h, 90m',
      DEFAULT_RETENTION,
    )
    .option('--dry-run', 'list what would be removed, and remove nothing')
    .action(async (flags: GcFlags) => {
      // A wrong duration is refused before anything connects.
      const olderThan = parseRetention(flags.olderThan);
      const { store, blobs } = resolveWorkerConfig(flags);
      const client = await clientFromFlags(flags);
      try {
        const report = await collectGarbage(client, {
          olderThan,
          dryRun: flags.dryRun === true,
          store,
          blobs,
        });
        console.log(flags.json ? JSON.stringify(report, null, 2) : garbageView(report));
      } finally {
        await client.connection.close();
      }
    });
}
