/**
 * Encryption keys, from `TAO_ENCRYPTION_KEYS` or a key file: `<id>:<base64 of
 * 32 bytes>`, one per line or comma-separated. The first key encrypts; every
 * key decrypts, so a key is rotated by putting a new one first and keeping
 * the old ones until no history or blob still needs them.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { InputError } from '../config/data-file';

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

export interface KeyRing {
  /** The key new payloads are encrypted with. */
  current: EncryptionKey;
  byId: ReadonlyMap<string, EncryptionKey>;
}

export interface KeySettings {
  /** The keys themselves (`TAO_ENCRYPTION_KEYS`). */
  keys?: string;
  /** A file holding them (`--encryption-key-file`, `TAO_ENCRYPTION_KEY_FILE`); must be owner-only. */
  keyFile?: string;
}

const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The key ring the settings describe; `undefined` when neither is set (no encryption). */
export function loadKeyRing(settings: KeySettings): KeyRing | undefined {
  if (settings.keys && settings.keyFile) {
    throw new InputError(
      'set either TAO_ENCRYPTION_KEYS or --encryption-key-file (TAO_ENCRYPTION_KEY_FILE), not both',
    );
  }
  if (settings.keyFile) return parseKeys(readKeyFile(settings.keyFile), `key file ${settings.keyFile}`);
  if (settings.keys) return parseKeys(settings.keys, 'TAO_ENCRYPTION_KEYS');
  return undefined;
}

/** A fresh key line for a key file or TAO_ENCRYPTION_KEYS. */
export function generateKeyLine(id: string): string {
  if (!KEY_ID.test(id)) throw new InputError(`bad key id "${id}": use 1-64 of A-Z a-z 0-9 . _ -`);
  return `${id}:${randomBytes(KEY_BYTES).toString('base64')}`;
}

function readKeyFile(path: string): string {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (error) {
    throw new InputError(
      `cannot read encryption key file ${path} (${(error as NodeJS.ErrnoException).code}); fix --encryption-key-file or TAO_ENCRYPTION_KEY_FILE`,
    );
  }
  if ((mode & 0o077) !== 0) {
    throw new InputError(`encryption key file ${path} is readable by others; run \`chmod 600 ${path}\``);
  }
  return readFileSync(path, 'utf8');
}

/** Errors name the source and the entry's position, never the key material. */
function parseKeys(text: string, source: string): KeyRing {
  const entries = text
    .split(/[\n,]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry && !entry.startsWith('#'));
  if (entries.length === 0)
    throw new InputError(`${source} holds no keys; expected <id>:<base64 of 32 bytes>`);
  const byId = new Map<string, EncryptionKey>();
  entries.forEach((entry, index) => {
    const at = `${source}, key ${index + 1}`;
    const colon = entry.indexOf(':');
    const id = entry.slice(0, colon);
    if (colon < 0 || !KEY_ID.test(id)) {
      throw new InputError(`${at}: expected <id>:<base64 of 32 bytes>, with an id of A-Z a-z 0-9 . _ -`);
    }
    const key = Buffer.from(entry.slice(colon + 1), 'base64');
    if (key.length !== KEY_BYTES) {
      throw new InputError(
        `${at} (id ${id}): not ${KEY_BYTES} bytes of base64; make one with \`tao keygen ${id}\``,
      );
    }
    if (byId.has(id)) throw new InputError(`${at}: id ${id} appears twice`);
    byId.set(id, { id, key });
  });
  return { current: byId.values().next().value!, byId };
}
