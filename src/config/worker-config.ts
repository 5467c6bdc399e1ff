import type { WorkerDeploymentVersion } from '@temporalio/common';
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
  /** How long a step's executor may report no progress before its attempt is retried (see src/activities/stall-watchdog.ts). */
  stallTimeoutMs: z.coerce.number().int().min(100).optional(),
  /** Whether model and tool spans carry prompts, answers and tool I/O (scrubbed); off by default. */
  traceContent: z
    .union([z.literal(true), z.enum(['true', 'false'])])
    .optional()
    .transform((value) => value === true || value === 'true'),
  /** Where payloads too large for history go (see src/blobs); shared by every worker and client of a deployment. */
  blobs: z.string().min(1).default('.tao/blobs'),
  /** Encryption keys themselves; env only, so they never sit on a command line. */
  encryptionKeys: z.string().optional(),
  encryptionKeyFile: z.string().min(1).optional(),
  /** Worker Versioning: the Worker Deployment this worker belongs to (see docs/versioning.md). */
  deploymentName: z
    .string()
    .min(1)
    // Temporal writes a version as `<deployment>.<build id>` (older servers `<deployment>:<build id>`).
    .refine((name) => !/[.:]/.test(name), "must not contain '.' or ':'")
    .optional(),
  /** The build of the code this worker runs, within its deployment. */
  buildId: z.string().min(1).max(255).optional(),
});
export type WorkerConfig = z.output<typeof WorkerConfigSchema>;
export type WorkerFlags = Partial<Record<keyof WorkerConfig, string | number | boolean>> & ConnectionFlags;

/** The flag and env variable each setting comes from, for error messages that say what to fix. */
const SOURCES: Record<keyof WorkerConfig, { flag: string; env: string }> = {
  taskQueue: { flag: '--task-queue', env: 'TAO_TASK_QUEUE' },
  executor: { flag: '--executor', env: 'TAO_EXECUTOR' },
  store: { flag: '--store', env: 'TAO_STORE' },
  concurrency: { flag: '--concurrency', env: 'TAO_CONCURRENCY' },
  stickyQueueTimeoutMs: { flag: '--sticky-queue-timeout-ms', env: 'TAO_STICKY_QUEUE_TIMEOUT_MS' },
  stallTimeoutMs: { flag: '--stall-timeout-ms', env: 'TAO_STALL_TIMEOUT_MS' },
  traceContent: { flag: '--trace-content', env: 'TAO_TRACE_CONTENT' },
  blobs: { flag: '--blobs', env: 'TAO_BLOBS' },
  encryptionKeys: { flag: '(env only)', env: 'TAO_ENCRYPTION_KEYS' },
  encryptionKeyFile: { flag: '--encryption-key-file', env: 'TAO_ENCRYPTION_KEY_FILE' },
  // The names the Temporal Worker Controller sets in each worker pod.
  deploymentName: { flag: '--deployment-name', env: 'TEMPORAL_DEPLOYMENT_NAME' },
  buildId: { flag: '--build-id', env: 'TEMPORAL_WORKER_BUILD_ID' },
};

const named = (key: keyof WorkerConfig) => `${SOURCES[key].flag} (or ${SOURCES[key].env})`;

export function resolveWorkerConfig(flags: WorkerFlags, env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const merged: Record<string, unknown> = {};
  for (const [key, { env: variable }] of Object.entries(SOURCES)) {
    const value = (flags as Record<string, unknown>)[key] ?? env[variable];
    if (value !== undefined && value !== '') merged[key] = value;
  }
  const parsed = WorkerConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(`invalid ${named(issue.path[0] as keyof WorkerConfig)}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * The Worker Deployment Version a worker of this config serves, or undefined
 * for an unversioned worker; half of one is bad input.
 */
export function deploymentVersion(config: WorkerConfig): WorkerDeploymentVersion | undefined {
  const { deploymentName, buildId } = config;
  if (deploymentName && buildId) return { deploymentName, buildId };
  if (deploymentName || buildId) {
    const [given, missing] = deploymentName
      ? (['deploymentName', 'buildId'] as const)
      : (['buildId', 'deploymentName'] as const);
    throw new InputError(
      `${named(given)} is set but ${named(missing)} is not; a versioned worker needs both, an unversioned one neither`,
    );
  }
  return undefined;
}

/** The codec settings a worker's config implies; clients and the codec server must use the same. */
export function payloadSettings(config: WorkerConfig): PayloadSettings {
  const encryption = loadKeyRing({ keys: config.encryptionKeys, keyFile: config.encryptionKeyFile });
  return { blobs: config.blobs, ...(encryption ? { encryption } : {}) };
}
