import { z } from 'zod';
import { InputError } from './data-file';

/** Where the worker connects and what it runs; from flags, else env, else these defaults. */
export const WorkerConfigSchema = z.object({
  address: z
    .string()
    .regex(/^[^\s:/]+:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7233')
    .default('127.0.0.1:7233'),
  namespace: z.string().min(1).default('default'),
  taskQueue: z.string().min(1).default('tao'),
  executor: z.string().min(1).default('script'),
  store: z.string().min(1).default('file:.tao'),
  concurrency: z.coerce.number().int().min(0).optional(),
  /** Directory for payloads too large for history; shared by every worker and client of a deployment. */
  blobs: z.string().min(1).default('.tao/blobs'),
});
export type WorkerConfig = z.output<typeof WorkerConfigSchema>;
export type WorkerFlags = Partial<Record<keyof WorkerConfig, string | number>>;

/** The flag and env variable each setting comes from, for error messages that say what to fix. */
const SOURCES: Record<keyof WorkerConfig, { flag: string; env: string }> = {
  address: { flag: '--address', env: 'TEMPORAL_ADDRESS' },
  namespace: { flag: '--namespace', env: 'TEMPORAL_NAMESPACE' },
  taskQueue: { flag: '--task-queue', env: 'TAO_TASK_QUEUE' },
  executor: { flag: '--executor', env: 'TAO_EXECUTOR' },
  store: { flag: '--store', env: 'TAO_STORE' },
  concurrency: { flag: '--concurrency', env: 'TAO_CONCURRENCY' },
  blobs: { flag: '--blobs', env: 'TAO_BLOBS' },
};

export function resolveWorkerConfig(flags: WorkerFlags, env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const merged: Record<string, unknown> = {};
  for (const [key, { env: variable }] of Object.entries(SOURCES)) {
    const value = flags[key as keyof WorkerConfig] ?? env[variable];
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
