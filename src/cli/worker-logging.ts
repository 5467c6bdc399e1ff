import type { LogLevel } from '@temporalio/common';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { InputError } from '../config/data-file';

const LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/**
 * The SDK logs worker lifecycle and webpack output at INFO, which buries the
 * CLI's own lines; `TAO_LOG_LEVEL` brings them back. Must run before the
 * process's first worker or native connection.
 */
export function installWorkerLogging(defaultLevel: LogLevel): void {
  const level = (process.env.TAO_LOG_LEVEL?.toUpperCase() || defaultLevel) as LogLevel;
  if (!LEVELS.includes(level)) {
    throw new InputError(
      `invalid TAO_LOG_LEVEL "${process.env.TAO_LOG_LEVEL}"; use one of ${LEVELS.join(', ')}`,
    );
  }
  Runtime.install({ logger: new DefaultLogger(level) });
}
