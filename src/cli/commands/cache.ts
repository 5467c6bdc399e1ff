import type { Command } from 'commander';
import { redactUrl } from '../../stores/postgres-database';
import { jsonOption, storeOption } from '../options';
import { cacheTable } from '../render';
import type { SessionStore } from '../../stores/session-store';
import type { StepCacheStore } from '../../stores/step-cache';
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
      await withStore(flags, async (store, ref) => {
        const entries = await cacheOf(store, ref).listCached();
        console.log(flags.json ? JSON.stringify(entries, null, 2) : cacheTable(entries));
      });
    });

  storeOption(cache.command('rm'))
    .description('remove a cached outcome, so the next step with that key runs again')
    .argument('<key>', 'as cache list shows it')
    .action(async (key: string, flags: Flags) => {
      await withStore(flags, async (store, ref) => {
        if (!(await cacheOf(store, ref).deleteCached(key)))
          throw new Error(`no cached step ${key} in ${redactUrl(ref)}`);
        console.log(`removed cached step ${key}`);
      });
    });

  storeOption(cache.command('clear'))
    .description('remove every cached outcome')
    .action(async (flags: Flags) => {
      await withStore(flags, async (store, ref) => {
        const removed = await cacheOf(store, ref).clearCached();
        console.log(`removed ${removed} cached step${removed === 1 ? '' : 's'}`);
      });
    });
}

/** The store's step cache; TAO's own stores all keep one, a store written against 1.0 may not. */
function cacheOf(store: SessionStore, ref: string): StepCacheStore {
  const { getCached, putCached, listCached, deleteCached, clearCached } = store;
  if (!getCached || !putCached || !listCached || !deleteCached || !clearCached) {
    throw new Error(`the store at ${redactUrl(ref)} keeps no step cache`);
  }
  return store as StepCacheStore;
}
