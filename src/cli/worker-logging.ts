import type { LogLevel } from '@temporalio/common';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { InputError } from '../config/data-file';

const LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/**
 * The SDK logs worker lifecycle and webpack output at INFO, which buries the
 * CLI's own lines; `TAO_LOG_LEVEL` brings them back. With `metrics`
 * (`host:port`), Temporal Core serves Prometheus metrics there: its own and
 * TAO's (see src/telemetry.ts). Must run before the process's first worker or
 * native connection.
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
  Runtime.install({
    logger: new DefaultLogger(level),
    ...(options.metrics !== undefined
      ? { telemetryOptions: { metrics: { prometheus: { bindAddress: options.metrics } } } }
      : {}),
  });
}
