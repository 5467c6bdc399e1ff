import { InputError } from '../config/data-file';
import { FileSessionStore } from './file-store';
import { MemorySessionStore } from './memory-store';
import type { SessionStore } from './session-store';

/** Builds the checkpoint store from `memory` or `file:<dir>`, checking a file store is writable up front. */
export async function createStore(ref: string): Promise<SessionStore> {
  if (ref === 'memory') return new MemorySessionStore();
  if (ref.startsWith('file:') && ref.length > 'file:'.length) {
    const store = new FileSessionStore(ref.slice('file:'.length));
    await store.ensureWritable();
    return store;
  }
  throw new InputError(`unknown store "${ref}"; use memory or file:<dir>`);
}
