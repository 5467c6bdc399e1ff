import type { Command } from 'commander';
import { InputError } from '../../config/data-file';
import { resolveWorkerConfig } from '../../config/worker-config';
import { redactUrl } from '../../stores/postgres-database';
import { createStore } from '../../stores/registry';
import { CheckpointUnreadableError, type SessionStore } from '../../stores/session-store';
import { jsonOption, storeOption } from '../options';
import { checkpointView, checkpointsTable, stepStatesTable } from '../render';

interface Flags {
  store?: string;
  json?: boolean;
}

/** The store `--store` / TAO_STORE names, as `tao worker` would resolve it; a memory store is refused. */
export function inspectedStoreRef(flags: Flags): string {
  const { store: ref } = resolveWorkerConfig(flags);
  if (ref === 'memory') {
    throw new InputError(
      'a memory store lives and dies inside its worker; inspect a file store with --store file:<dir>',
    );
  }
  return ref;
}

/** Opens the store {@link inspectedStoreRef} names for `body`. */
export async function withStore(flags: Flags, body: (store: SessionStore, ref: string) => Promise<void>) {
  const ref = inspectedStoreRef(flags);
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
        if (!(await held(() => store.load(id)))) throw new Error(`no checkpoint ${id} in ${redactUrl(ref)}`);
        await store.delete(id);
        console.log(`removed checkpoint ${id}`);
      });
    });

  jsonOption(storeOption(checkpoint.command('step-states')))
    .description(
      'list the states running llm steps keep for their retries, and those left by steps whose run ended mid-step',
    )
    .action(async (flags: Flags) => {
      await withStore(flags, async (store) => {
        const summaries = await store.listStepStates();
        console.log(flags.json ? JSON.stringify(summaries, null, 2) : stepStatesTable(summaries));
      });
    });

  storeOption(checkpoint.command('rm-step-state'))
    .description(
      "delete a step state: one a terminated run left behind (a running step's next retry would start over from its last heartbeat)",
    )
    .argument('<key>', 'as step-states lists it: <workflow id>/<run id>/<activity id>')
    .action(async (key: string, flags: Flags) => {
      await withStore(flags, async (store, ref) => {
        if (!(await held(() => store.loadStepState(key)))) {
          throw new Error(`no step state ${key} in ${redactUrl(ref)}`);
        }
        await store.deleteStepState(key);
        console.log(`removed step state ${key}`);
      });
    });
}

/** Whether the store holds it; an unreadable one is exactly what a user may need to clear. */
function held(load: () => Promise<unknown>): Promise<boolean> {
  return load().then(
    (found) => found !== undefined,
    (error: unknown) => {
      if (error instanceof CheckpointUnreadableError) return true;
      throw error;
    },
  );
}
