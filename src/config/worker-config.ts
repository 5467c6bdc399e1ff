import { z } from 'zod';
import { type PayloadSettings, loadKeyRing } from '../codec';
import type { ConnectionFlags } from '../connection/settings';
import { InputError } from './data-file';

/**
 * What a worker runs and where payloads live; from flags, else env, else these
 * defaults. Where Temporal is comes separately, from src/connection.
 */
export const WorkerConfigSchema = z.object({
  taskQueue: z.string().min(1).default('tao'),
  executor: z.string().min(1).default('script'),
  store: z.string().min(1).default('file:.tao'),
  concurrency: z.coerce.number().int().min(0).optional(),
  /** How long a workflow task waits for its worker's sticky queue after that worker died (see src/worker.ts). */
  stickyQueueTimeoutMs: z.coerce.number().int().min(100).optional(),
  /** Where payloads too large for history go (see src/blobs); shared by every worker and client of a deployment. */
  blobs: z.string().min(1).default('.tao/blobs'),
  /** Encryption keys themselves; env only, so they never sit on a command line. */
  encryptionKeys: z.string().optional(),
  encryptionKeyFile: z.string().min(1).optional(),
});
export type WorkerConfig = z.output<typeof WorkerConfigSchema>;
export type WorkerFlags = Partial<Record<keyof WorkerConfig, string | number>> & ConnectionFlags;

/** The flag and env variable each setting comes from, for error messages that say what to fix. */
const SOURCES: Record<keyof WorkerConfig, { flag: string; env: string }> = {
  taskQueue: { flag: '--task-queue', env: 'TAO_TASK_QUEUE' },
  executor: { flag: '--executor', env: 'TAO_EXECUTOR' },
  store: { flag: '--store', env: 'TAO_STORE' },
  concurrency: { flag: '--concurrency', env: 'TAO_CONCURRENCY' },
  stickyQueueTimeoutMs: { flag: '--sticky-queue-timeout-ms', env: 'TAO_STICKY_QUEUE_TIMEOUT_MS' },
  blobs: { flag: '--blobs', env: 'TAO_BLOBS' },
  encryptionKeys: { flag: '(env only)', env: 'TAO_ENCRYPTION_KEYS' },
  encryptionKeyFile: { flag: '--encryption-key-file', env: 'TAO_ENCRYPTION_KEY_FILE' },
};

export function resolveWorkerConfig(flags: WorkerFlags, env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const merged: Record<string, unknown> = {};
  for (const [key, { env: variable }] of Object.entries(SOURCES)) {
    const value = (flags as Record<string, unknown>)[key] ?? env[variable];
    if (value !== undefined && value !== '') merged[key] = value;
  }
  const parsed = WorkerConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const { flag, env: variable } = SOURCES[issue.path[0] as keyof WorkerConfig];
    throw new InputError(`invalid ${flag} (or ${variable}): ${issue.message}`);
  }
  return parsed.data;
}

/** The codec settings a worker's config implies; clients and the codec server must use the same. */
export function payloadSettings(config: WorkerConfig): PayloadSettings {
  const encryption = loadKeyRing({ keys: config.encryptionKeys, keyFile: config.encryptionKeyFile });
  return { blobs: config.blobs, ...(encryption ? { encryption } : {}) };
}
