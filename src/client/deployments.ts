/**
 * Worker Deployments from a client: which build of a deployment takes new
 * runs, and whether an older build still has runs pinned to it. Workers
 * declare their version (`--deployment-name`, `--build-id`), but the server
 * sends new runs to a version only once it is the deployment's current one;
 * a version that stopped being current drains as its pinned runs close.
 * Built on the Worker Deployment calls of the client's `workflowService`.
 */
import { type Client, isGrpcServiceError } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { optionalTsToDate } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';

const Status = temporal.api.enums.v1.WorkerDeploymentVersionStatus;
type Timestamp = Parameters<typeof optionalTsToDate>[0];

// gRPC status codes the server answers these calls with.
const NOT_FOUND = 5;
const FAILED_PRECONDITION = 9;

/**
 * Where a version stands: `inactive` (never current), `current` or `ramping`
 * (takes new runs), `draining` (no new runs, pinned runs still open),
 * `drained` (no open run uses it: its workers may stop).
 */
export type VersionStatus = 'inactive' | 'current' | 'ramping' | 'draining' | 'drained' | 'unspecified';

const STATUSES: Partial<Record<temporal.api.enums.v1.WorkerDeploymentVersionStatus, VersionStatus>> = {
  [Status.WORKER_DEPLOYMENT_VERSION_STATUS_INACTIVE]: 'inactive',
  [Status.WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT]: 'current',
  [Status.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING]: 'ramping',
  [Status.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING]: 'draining',
  [Status.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED]: 'drained',
};

export interface DeploymentVersionState {
  buildId: string;
  status: VersionStatus;
  createdAt?: Date;
  /** When the server last counted the version's open pinned runs (it does so periodically). */
  drainageCheckedAt?: Date;
}

export interface DeploymentState {
  deploymentName: string;
  /** The build new runs go to; undefined: unversioned workers take them. */
  currentBuildId?: string;
  rampingBuildId?: string;
  rampingPercentage?: number;
  /** Newest first. */
  versions: DeploymentVersionState[];
}

export interface SetCurrentOptions {
  /** Make it current before any of its workers polled (they take the runs when they come). */
  allowNoPollers?: boolean;
  /** Allow it although it polls fewer task queues than the current version did (those queues go unversioned). */
  ignoreMissingTaskQueues?: boolean;
}

/** The deployment's routing and each of its versions. */
export async function describeDeployment(client: Client, deploymentName: string): Promise<DeploymentState> {
  const info = await call(client, { deploymentName }, () =>
    client.workflowService.describeWorkerDeployment({ namespace: client.options.namespace, deploymentName }),
  ).then((response) => response.workerDeploymentInfo);
  const routing = info?.routingConfig;
  const versions = (info?.versionSummaries ?? []).map((summary) =>
    versionState(
      summary.deploymentVersion?.buildId ?? '',
      summary.status,
      summary.createTime,
      summary.drainageInfo,
    ),
  );
  return {
    deploymentName,
    ...optional('currentBuildId', routing?.currentDeploymentVersion?.buildId),
    ...optional('rampingBuildId', routing?.rampingDeploymentVersion?.buildId),
    ...optional(
      'rampingPercentage',
      routing?.rampingDeploymentVersion ? (routing.rampingVersionPercentage ?? 0) : undefined,
    ),
    versions: versions.sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0)),
  };
}

/** One version's status, with its drainage as the server last counted it. */
export async function describeDeploymentVersion(
  client: Client,
  version: WorkerDeploymentVersion,
): Promise<DeploymentVersionState> {
  const info = await call(client, version, () =>
    client.workflowService.describeWorkerDeploymentVersion({
      namespace: client.options.namespace,
      deploymentVersion: version,
    }),
  ).then((response) => response.workerDeploymentVersionInfo);
  return versionState(version.buildId, info?.status, info?.createTime, info?.drainageInfo);
}

/**
 * Makes `version` its deployment's current version: new runs go to its
 * workers from now on, runs pinned to other versions stay where they are.
 * Returns the build that was current before, if any.
 */
export async function setCurrentVersion(
  client: Client,
  version: WorkerDeploymentVersion,
  options: SetCurrentOptions = {},
): Promise<{ previousBuildId?: string }> {
  const response = await call(client, version, () =>
    client.workflowService.setWorkerDeploymentCurrentVersion({
      namespace: client.options.namespace,
      deploymentName: version.deploymentName,
      buildId: version.buildId,
      identity: client.options.identity,
      allowNoPollers: options.allowNoPollers ?? false,
      ignoreMissingTaskQueues: options.ignoreMissingTaskQueues ?? false,
    }),
  );
  return optional('previousBuildId', response.previousDeploymentVersion?.buildId);
}

function versionState(
  buildId: string,
  status: temporal.api.enums.v1.WorkerDeploymentVersionStatus | null | undefined,
  createTime: Timestamp,
  drainage: temporal.api.deployment.v1.IVersionDrainageInfo | null | undefined,
): DeploymentVersionState {
  const createdAt = optionalTsToDate(createTime);
  const drainageCheckedAt = optionalTsToDate(drainage?.lastCheckedTime);
  return {
    buildId,
    status: (status && STATUSES[status]) || 'unspecified',
    ...(createdAt ? { createdAt } : {}),
    ...(drainageCheckedAt ? { drainageCheckedAt } : {}),
  };
}

/** `{ [key]: value }` when the value is set (proto3 leaves unset strings empty), else nothing. */
function optional<K extends string, V>(key: K, value: V | null | undefined): { [P in K]?: V } {
  return value === undefined || value === null || value === '' ? {} : ({ [key]: value } as { [P in K]?: V });
}

/** The call, with the server's refusals turned into one line that names what to do. */
async function call<T>(
  client: Client,
  target: { deploymentName: string; buildId?: string },
  send: () => Promise<T>,
): Promise<T> {
  try {
    return await send();
  } catch (error) {
    if (!isGrpcServiceError(error)) throw error;
    const { deploymentName, buildId } = target;
    const where = `namespace ${client.options.namespace}`;
    if (error.code === NOT_FOUND && buildId === undefined)
      throw new Error(
        `no worker deployment "${deploymentName}" in ${where}: no worker started with --deployment-name ${deploymentName} has polled yet`,
      );
    if (error.code === NOT_FOUND)
      throw new Error(
        `no build "${buildId}" in worker deployment "${deploymentName}" (${where}): start its worker (--deployment-name ${deploymentName} --build-id ${buildId}) first`,
      );
    if (error.code === FAILED_PRECONDITION)
      throw new Error(`worker deployment "${deploymentName}": ${error.details}`);
    throw error;
  }
}
