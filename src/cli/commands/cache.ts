import type { Command } from 'commander';
import { redactUrl } from '../../stores/postgres-database';
import { jsonOption, storeOption } from '../options';
import { cacheTable } from '../render';
import { withStore } from './checkpoint';

interface Flags {
  store?: string;
  json?: boolean;
}

/** `tao cache`: the step cache across runs (a spec's `cache`), in the store the workers share. */
export function registerCache(program: Command): void {
  const cache = program
    .command('cache')
    .description('list or remove the step outcomes cached across runs (steps with cache:) in a store');

  jsonOption(storeOption(cache.command('list')))
    .description('list cached step outcomes, expired ones too, with the run each came from')
    .action(async (flags: Flags) => {
      await withStore(flags, async (store) => {
        const entries = await store.listCached();
        console.log(flags.json ? JSON.stringify(entries, null, 2) : cacheTable(entries));
      });
    });

  storeOption(cache.command('rm'))
    .description('remove a cached outcome, so the next step with that key runs again')
    .argument('<key>', 'as cache list shows it')
    .action(async (key: string, flags: Flags) => {
      await withStore(flags, async (store, ref) => {
        if (!(await store.deleteCached(key))) throw new Error(`no cached step ${key} in ${redactUrl(ref)}`);
        console.log(`removed cached step ${key}`);
      });
    });

  storeOption(cache.command('clear'))
    .description('remove every cached outcome')
    .action(async (flags: Flags) => {
      await withStore(flags, async (store) => {
        const removed = await store.clearCached();
        console.log(`removed ${removed} cached step${removed === 1 ? '' : 's'}`);
      });
    });
}
