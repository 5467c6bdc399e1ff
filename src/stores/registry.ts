import { InputError } from '../config/data-file';
import { FileSessionStore } from './file-store';
import { MemorySessionStore } from './memory-store';
import { redactUrl } from './postgres-database';
import { PostgresSessionStore } from './postgres-store';
import type { SessionStore } from './session-store';

/** A `--store` reference, parsed: every store that lives beside the checkpoints takes the same ones. */
export type StoreRef = { kind: 'memory' } | { kind: 'postgres'; url: string } | { kind: 'file'; dir: string };

/** `memory`, `file:<dir>` or `postgres://…`; anything else is one line naming the forms. */
export function parseStoreRef(ref: string): StoreRef {
  if (ref === 'memory') return { kind: 'memory' };
  if (/^postgres(ql)?:\/\//.test(ref)) return { kind: 'postgres', url: ref };
  if (ref.startsWith('file:') && ref.length > 'file:'.length) {
    return { kind: 'file', dir: ref.slice('file:'.length) };
  }
  throw new InputError(
    `unknown store "${redactUrl(ref)}"; use memory, file:<dir> or postgres://user@host/db`,
  );
}

/**
 * Builds the checkpoint store from `memory`, `file:<dir>` or `postgres://…`,
 * checking up front that it is usable.
 */
export async function createStore(ref: string): Promise<SessionStore> {
  const parsed = parseStoreRef(ref);
  if (parsed.kind === 'memory') return new MemorySessionStore();
  if (parsed.kind === 'postgres') return PostgresSessionStore.connect(parsed.url);
  const store = new FileSessionStore(parsed.dir);
  await store.ensureWritable();
  return store;
}
