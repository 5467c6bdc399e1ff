import type { Command } from 'commander';
import { InputError } from '../../config/data-file';
import { resolveWorkerConfig } from '../../config/worker-config';
import { redactUrl } from '../../stores/postgres-database';
import { createStore } from '../../stores/registry';
import { CheckpointUnreadableError, type SessionStore } from '../../stores/session-store';
import { jsonOption, storeOption } from '../options';
import { checkpointView, checkpointsTable } from '../render';

interface Flags {
  store?: string;
  json?: boolean;
}

async function withStore(flags: Flags, body: (store: SessionStore, ref: string) => Promise<void>) {
  const { store: ref } = resolveWorkerConfig(flags);
  if (ref === 'memory') {
    throw new InputError(
      'a memory store lives and dies inside its worker; inspect a file store with --store file:<dir>',
    );
  }
  const store = await createStore(ref);
  try {
    await body(store, ref);
  } finally {
    await store.close?.();
  }
}

export function registerCheckpoint(program: Command): void {
  const checkpoint = program
    .command('checkpoint')
    .description('inspect or remove resumable-workflow checkpoints in a store');

  jsonOption(storeOption(checkpoint.command('list')))
    .description('list checkpoints')
    .action(async (flags: Flags) => {
      await withStore(flags, async (store) => {
        const summaries = await store.list();
        console.log(flags.json ? JSON.stringify(summaries, null, 2) : checkpointsTable(summaries));
      });
    });

  jsonOption(storeOption(checkpoint.command('show')))
    .description("show a checkpoint's completed steps")
    .argument('<id>', "checkpoint id (a resumable run's checkpointId, default its workflow id)")
    .action(async (id: string, flags: Flags) => {
      await withStore(flags, async (store, ref) => {
        const found = await store.load(id);
        if (!found) throw new Error(`no checkpoint ${id} in ${redactUrl(ref)}`);
        console.log(flags.json ? JSON.stringify(found, null, 2) : checkpointView(id, found));
      });
    });

  storeOption(checkpoint.command('rm'))
    .description('delete a checkpoint, so the next run with that id starts from scratch')
    .argument('<id>', 'checkpoint id')
    .action(async (id: string, flags: Flags) => {
      await withStore(flags, async (store, ref) => {
        // An unreadable checkpoint is exactly the one a user may need to clear.
        const exists = await store.load(id).then(
          (checkpoint) => checkpoint !== undefined,
          (error: unknown) => {
            if (error instanceof CheckpointUnreadableError) return true;
            throw error;
          },
        );
        if (!exists) throw new Error(`no checkpoint ${id} in ${redactUrl(ref)}`);
        await store.delete(id);
        console.log(`removed checkpoint ${id}`);
      });
    });
}
