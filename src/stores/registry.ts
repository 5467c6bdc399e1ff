import { InputError } from '../config/data-file';
import { FileSessionStore } from './file-store';
import { MemorySessionStore } from './memory-store';
import { redactUrl } from './postgres-database';
import { PostgresSessionStore } from './postgres-store';
import type { SessionStore } from './session-store';

/**
 * Builds the checkpoint store from `memory`, `file:<dir>` or `postgres://…`,
 * checking up front that it is usable.
 */
export async function createStore(ref: string): Promise<SessionStore> {
  if (ref === 'memory') return new MemorySessionStore();
  if (/^postgres(ql)?:\/\//.test(ref)) return PostgresSessionStore.connect(ref);
  if (ref.startsWith('file:') && ref.length > 'file:'.length) {
    const store = new FileSessionStore(ref.slice('file:'.length));
    await store.ensureWritable();
    return store;
  }
  throw new InputError(
    `unknown store "${redactUrl(ref)}"; use memory, file:<dir> or postgres://user@host/db`,
  );
}
