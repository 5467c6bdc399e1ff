import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { describeDeployment, setCurrentVersion } from '../../client/deployments';
import { InputError } from '../../config/data-file';
import { type WorkerFlags, deploymentVersion, resolveWorkerConfig } from '../../config/worker-config';
import { clientFromFlags, connectionOptions, jsonOption } from '../options';
import { deploymentView } from '../render';

type Flags = WorkerFlags & { json?: boolean };

const NAME_HELP = 'the worker deployment [env TEMPORAL_DEPLOYMENT_NAME]';

async function withClient(flags: Flags, body: (client: Client) => Promise<void>): Promise<void> {
  const client = await clientFromFlags(flags);
  try {
    await body(client);
  } finally {
    await client.connection.close();
  }
}

export function registerDeployment(program: Command): void {
  const deployment = program
    .command('deployment')
    .description('Worker Versioning: which build of a worker deployment new runs go to (docs/versioning.md)');

  jsonOption(connectionOptions(deployment.command('describe')))
    .description(
      "list a worker deployment's builds: which one new runs go to, which still have runs (draining) and which none (drained)",
    )
    .option('--deployment-name <name>', NAME_HELP)
    .action(async (flags: Flags) => {
      const { deploymentName } = resolveWorkerConfig(flags);
      if (!deploymentName)
        throw new InputError('which deployment? pass --deployment-name (or set TEMPORAL_DEPLOYMENT_NAME)');
      await withClient(flags, async (client) => {
        const state = await describeDeployment(client, deploymentName);
        console.log(flags.json ? JSON.stringify(state, null, 2) : deploymentView(state));
      });
    });

  connectionOptions(deployment.command('set-current'))
    .description(
      'send new runs to this build from now on; runs already going stay on the build they started on',
    )
    .option('--deployment-name <name>', NAME_HELP)
    .option('--build-id <id>', 'the build, whose workers must be polling [env TEMPORAL_WORKER_BUILD_ID]')
    .action(async (flags: Flags) => {
      const version = deploymentVersion(resolveWorkerConfig(flags));
      if (!version)
        throw new InputError(
          'which build? pass --deployment-name and --build-id (or set TEMPORAL_DEPLOYMENT_NAME and TEMPORAL_WORKER_BUILD_ID)',
        );
      await withClient(flags, async (client) => {
        const { previousBuildId } = await setCurrentVersion(client, version);
        const previous = previousBuildId
          ? `; runs on build ${previousBuildId} finish there (tao deployment describe shows it drained once none is left)`
          : '';
        console.error(
          `new runs of worker deployment ${version.deploymentName} go to build ${version.buildId}${previous}`,
        );
      });
    });
}
