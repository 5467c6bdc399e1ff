import type { LogLevel } from '@temporalio/common';
import { DefaultLogger, type LogEntry, Runtime } from '@temporalio/worker';
import { InputError } from '../config/data-file';
import { recordEventLoopDelay } from '../telemetry/metrics';
import { limitHeapGrowth } from '../worker';

const LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/**
 * The SDK logs worker lifecycle and webpack output at INFO, which buries the
 * CLI's own lines; `TAO_LOG_LEVEL` brings them back. With `metrics`
 * (`host:port`), Temporal Core serves Prometheus metrics there: its own and
 * TAO's (see src/telemetry/metrics.ts), the event-loop delay among them.
 * The process's heaps grow as a worker's should ({@link limitHeapGrowth}).
 * Must run before the process's first worker or native connection.
 */
export function installWorkerRuntime(defaultLevel: LogLevel, options: { metrics?: string } = {}): void {
  const level = (process.env.TAO_LOG_LEVEL?.toUpperCase() || defaultLevel) as LogLevel;
  if (!LEVELS.includes(level)) {
    throw new InputError(
      `invalid TAO_LOG_LEVEL "${process.env.TAO_LOG_LEVEL}"; use one of ${LEVELS.join(', ')}`,
    );
  }
  if (options.metrics !== undefined && !/^[^\s:]+:\d{1,5}$/.test(options.metrics)) {
    throw new InputError(`--metrics takes host:port (e.g. 127.0.0.1:9464), got "${options.metrics}"`);
  }
  const format = process.env.TAO_LOG_FORMAT?.toLowerCase() || 'text';
  if (format !== 'text' && format !== 'json') {
    throw new InputError(`invalid TAO_LOG_FORMAT "${process.env.TAO_LOG_FORMAT}"; use text or json`);
  }
  limitHeapGrowth();
  Runtime.install({
    logger: format === 'json' ? new DefaultLogger(level, writeJsonLine) : new DefaultLogger(level),
    ...(options.metrics !== undefined
      ? { telemetryOptions: { metrics: { prometheus: { bindAddress: options.metrics } } } }
      : {}),
  });
  if (options.metrics !== undefined) recordEventLoopDelay(Runtime.instance().metricMeter);
}

/**
 * `TAO_LOG_FORMAT=json`: one JSON object per line on stderr, for log
 * shippers. The SDK's context (workflowId, activityId, attempt, ...) and TAO's
 * own (taskId, agent) are top-level fields beside time, level and message.
 */
function writeJsonLine({ level, message, meta, timestampNanos }: LogEntry): void {
  const time = new Date(Number(timestampNanos / 1_000_000n)).toISOString();
  process.stderr.write(`${JSON.stringify({ time, level, message, ...meta }, jsonSafe)}\n`);
}

/** Log metadata can hold bigints and errors, which JSON.stringify cannot show as they are. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}
