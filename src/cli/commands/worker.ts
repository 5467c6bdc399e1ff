import type { Command } from 'commander';
import { type WorkerFlags, deploymentVersion, resolveWorkerConfig } from '../../config/worker-config';
import { describeConnection, resolveConnection } from '../../connection/settings';
import { connectionOptions, workerOptions } from '../options';

export function registerWorker(program: Command): void {
  workerOptions(
    connectionOptions(
      program.command('worker').description('run a TAO worker against a Temporal server until Ctrl-C'),
    ),
  )
    .option('--metrics <host:port>', "serve Prometheus metrics there (Temporal Core's and TAO's)")
    .action(async (flags: WorkerFlags & { metrics?: string }) => {
      const config = resolveWorkerConfig(flags);
      const version = deploymentVersion(config);
      const connection = resolveConnection(flags);
      const [{ runWorker }, { installWorkerRuntime }] = await Promise.all([
        import('../../worker'),
        import('../worker-logging'),
      ]);
      installWorkerRuntime('WARN', flags.metrics !== undefined ? { metrics: flags.metrics } : {});
      const versioned = version
        ? `\nas build ${version.buildId} of worker deployment ${version.deploymentName}; new runs go to it once it is current: tao deployment set-current --deployment-name ${version.deploymentName} --build-id ${version.buildId}`
        : '';
      await runWorker(config, connection, () =>
        console.error(
          `worker polling task queue ${config.taskQueue} on ${describeConnection(connection)} (executor ${config.executor}, store ${config.store}); Ctrl-C stops it${versioned}`,
        ),
      );
    });
}
