/**
 * Worker Versioning from the command line: the version flags, `tao deployment`,
 * and `tao dev`, whose worker is a build of the `tao-dev` deployment named
 * after its code, so that a restart on other code leaves open runs on theirs.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { DeploymentState } from '../../src/client/deployments';
import { freePort } from '../../src/local/dev-server';
import { startTao, stopTaoProcesses, tao } from '../support/cli';
import { eventually } from '../support/gate-executor';
import { spec } from '../support/specs';
import { devServerAddress, uniqueId } from '../support/temporal';

afterAll(stopTaoProcesses);

const dir = mkdtempSync(join(tmpdir(), 'tao-cli-versioning-'));
const packageVersion = (
  JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

const quickRun = file('quick-run.json', { workflow: 'parallel', input: { specs: [spec('quick')] } });

const describeDeployment = async (address: string, deploymentName: string) => {
  const run = await tao([
    'deployment',
    'describe',
    '--deployment-name',
    deploymentName,
    '--address',
    address,
    '--json',
  ]);
  expect(run).toMatchObject({ code: 0, stderr: '' });
  return JSON.parse(run.stdout) as DeploymentState;
};
const statuses = (state: DeploymentState) => state.versions.map((v) => [v.buildId, v.status]);

describe('half a version is bad input: one line naming both settings, exit 2, nothing started', () => {
  test.each([
    [
      ['worker', '--deployment-name', 'agents'],
      {},
      '--deployment-name (or TEMPORAL_DEPLOYMENT_NAME) is set but --build-id (or TEMPORAL_WORKER_BUILD_ID) is not',
    ],
    [
      ['worker'],
      { TEMPORAL_WORKER_BUILD_ID: 'v2' },
      '--build-id (or TEMPORAL_WORKER_BUILD_ID) is set but --deployment-name (or TEMPORAL_DEPLOYMENT_NAME) is not',
    ],
    [
      ['dev', '--build-id', 'v2'],
      {},
      '--build-id (or TEMPORAL_WORKER_BUILD_ID) is set but --deployment-name (or TEMPORAL_DEPLOYMENT_NAME) is not',
    ],
  ])('tao %j with env %j', async (args, env, message) => {
    const db = join(mkdtempSync(join(dir, 'bad-')), 'dev.db');
    // An address nothing answers on: the line must come before any connection is tried.
    const run = await tao([...args, ...(args[0] === 'dev' ? ['--db', db] : ['--address', '127.0.0.1:1'])], {
      env,
    });
    expect(run).toMatchObject({
      code: 2,
      stderr: `tao: ${message}; a versioned worker needs both, an unversioned one neither\n`,
    });
    expect(existsSync(db)).toBe(false);
  });

  test('a deployment name Temporal cannot take', async () => {
    const run = await tao([
      'worker',
      '--deployment-name',
      'agents.v2',
      '--build-id',
      'b',
      '--address',
      '127.0.0.1:1',
    ]);
    expect(run).toMatchObject({
      code: 2,
      stderr: "tao: invalid --deployment-name (or TEMPORAL_DEPLOYMENT_NAME): must not contain '.' or ':'\n",
    });
  });
});

test("a `tao worker` versioned by the Worker Controller's variables takes new runs once `tao deployment set-current` makes its build current", async () => {
  const address = devServerAddress();
  const deploymentName = uniqueId('tao-cli-deployment');
  const taskQueue = uniqueId('versioned-worker');
  const worker = startTao(['worker', '--task-queue', taskQueue, '--store', 'memory', '--address', address], {
    env: { TEMPORAL_DEPLOYMENT_NAME: deploymentName, TEMPORAL_WORKER_BUILD_ID: 'b1' },
  });
  await worker.waitFor(
    `as build b1 of worker deployment ${deploymentName}; new runs go to it once it is current: tao deployment set-current --deployment-name ${deploymentName} --build-id b1`,
    60_000,
  );
  const server = ['--deployment-name', deploymentName, '--address', address];
  const missing = await tao(['deployment', 'set-current', ...server, '--build-id', 'b0']);
  expect(missing).toMatchObject({
    code: 1,
    stderr: `tao: no build "b0" in worker deployment "${deploymentName}" (namespace default): start its worker (--deployment-name ${deploymentName} --build-id b0) first\n`,
  });

  // The worker registers its version with its first poll.
  await eventually(async () =>
    (await tao(['deployment', 'describe', ...server])).code === 0 ? true : undefined,
  );
  expect(statuses(await describeDeployment(address, deploymentName))).toEqual([['b1', 'inactive']]);
  const set = await tao(['deployment', 'set-current', ...server, '--build-id', 'b1']);
  expect(set).toMatchObject({
    code: 0,
    stderr: `new runs of worker deployment ${deploymentName} go to build b1\n`,
  });
  const run = await tao([
    'run',
    quickRun,
    '--task-queue',
    taskQueue,
    '--address',
    address,
    '--id',
    uniqueId('b1-run'),
  ]);
  expect(run.code).toBe(0);

  const described = await describeDeployment(address, deploymentName);
  expect(described).toMatchObject({ deploymentName, currentBuildId: 'b1' });
  expect(statuses(described)).toEqual([['b1', 'current']]);
  const table = await tao(['deployment', 'describe', ...server]);
  expect(table.stdout).toContain('new runs go to     build b1');
  expect(table.stdout).toMatch(/│ b1 +│ current │/);
  await worker.stop();

  const unknown = await tao(['deployment', 'describe', '--deployment-name', 'nobody', '--address', address]);
  expect(unknown).toMatchObject({
    code: 1,
    stderr:
      'tao: no worker deployment "nobody" in namespace default: no worker started with --deployment-name nobody has polled yet\n',
  });
});

test('tao dev runs its worker as a build named by its code: a restart as another build leaves the open run on its own, a restart on the same code finishes it', async () => {
  const work = mkdtempSync(join(dir, 'dev-'));
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  // Long enough for the step to be under way when `tao dev` is killed; short heartbeats so a new worker retries it soon.
  const rules = file('slow.json', { default: { delayMs: 2_000 } });
  const slow = file('slow-run.json', {
    workflow: 'parallel',
    input: { specs: [spec('slow')], stepPolicy: { heartbeatTimeoutMs: 1_000 } },
  });
  const dev = async (...version: string[]) => {
    const args = [
      'dev',
      '--port',
      String(port),
      '--ui-port',
      String(await freePort()),
      '--db',
      join(work, 'dev.db'),
    ];
    const proc = startTao([...args, '--executor', `script:${rules}`, '--store', 'memory', ...version], {
      cwd: work,
    });
    const banner = /as build (\S+) of worker deployment tao-dev, which new runs go to/;
    await proc.waitFor(banner, 60_000);
    return { process: proc, buildId: banner.exec(proc.output())![1]! };
  };

  const first = await dev();
  expect(first.buildId).toMatch(new RegExp(`^${packageVersion.replace(/\./g, '\\.')}-[0-9a-f]{12}$`));
  const client = new Client({ connection: await Connection.connect({ address }) });
  const pinnedTo = async (workflowId: string) =>
    (await client.workflow.getHandle(workflowId).describe()).raw.workflowExecutionInfo?.versioningInfo
      ?.deploymentVersion?.buildId ?? undefined;
  try {
    expect(await tao(['start', slow, '--address', address, '--id', 'slow-1'])).toMatchObject({ code: 0 });
    await eventually(async () => ((await pinnedTo('slow-1')) === first.buildId ? true : undefined));
    await first.process.kill();

    const other = await dev('--deployment-name', 'tao-dev', '--build-id', 'other-code');
    expect(other.buildId).toBe('other-code');
    expect(await tao(['run', quickRun, '--address', address, '--id', 'quick-1'])).toMatchObject({ code: 0 });
    expect(await pinnedTo('quick-1')).toBe('other-code');
    expect((await client.workflow.getHandle('slow-1').describe()).status.name).toBe('RUNNING');
    expect(await pinnedTo('slow-1')).toBe(first.buildId);
    const described = await describeDeployment(address, 'tao-dev');
    expect(described.currentBuildId).toBe('other-code');
    expect(statuses(described)).toEqual([
      ['other-code', 'current'],
      [first.buildId, 'draining'],
    ]);
    await other.process.kill();

    const again = await dev();
    expect(again.buildId).toBe(first.buildId);
    const result = await tao(['result', 'slow-1', '--address', address, '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject([{ taskId: 'slow', success: true }]);
    // A closed run of a build no worker runs any more: its result is in its history, its progress query unanswered.
    const closed = await tao(['result', 'quick-1', '--address', address, '--json']);
    expect(closed.code).toBe(0);
    expect(JSON.parse(closed.stdout)).toMatchObject([{ taskId: 'quick', success: true }]);
    const status = await tao(['status', 'quick-1', '--address', address]);
    expect(status.stdout).toContain('progress    unavailable (no worker answered on tao)');
    await eventually(async () => {
      const state = await describeDeployment(address, 'tao-dev');
      return statuses(state).some(([build, status]) => build === 'other-code' && status === 'drained')
        ? true
        : undefined;
    }, 30_000);
    await again.process.stop();
  } finally {
    await client.connection.close();
  }
});
