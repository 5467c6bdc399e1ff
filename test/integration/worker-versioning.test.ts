/**
 * Worker Versioning on the dev server: runs started while build A was current
 * finish on build A's worker, their child workflows and continue-as-new runs
 * included, while build B's worker takes every new run; then A reports drained.
 * Which build ran what is read from each execution's history and description.
 */
import type { Client } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import {
  describeDeployment,
  describeDeploymentVersion,
  setCurrentVersion,
  type VersionStatus,
} from '../../src/client/deployments';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { GateExecutor, eventually, untilIn } from '../support/gate-executor';
import { RecordingExecutor } from '../support/recording-executor';
import { spec } from '../support/specs';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

/** Each workflow task's build, for every execution of a run: its children and continue-as-new runs too. */
async function buildsOf(client: Client, workflowId: string, runId: string): Promise<string[]> {
  const { events } = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const builds: string[] = [];
  for (const event of events ?? []) {
    const completed = event.workflowTaskCompletedEventAttributes;
    if (completed) builds.push(completed.deploymentVersion?.buildId ?? 'unversioned');
    const child = event.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    if (child) builds.push(...(await buildsOf(client, child.workflowId!, child.runId!)));
    const next = event.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    if (next) builds.push(...(await buildsOf(client, workflowId, next)));
  }
  return builds;
}

/** The build a run is pinned to, as the server describes it. */
async function pinnedBuild(client: Client, workflowId: string) {
  const info = (await client.workflow.getHandle(workflowId).describe()).raw.workflowExecutionInfo;
  return {
    buildId: info?.versioningInfo?.deploymentVersion?.buildId,
    pinned:
      info?.versioningInfo?.behavior === temporal.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_PINNED,
  };
}

/** Waits for the version's workers to have polled, then makes it current; returns the build it replaced. */
async function promote(client: Client, version: WorkerDeploymentVersion) {
  await eventually(() => describeDeploymentVersion(client, version).catch(() => undefined));
  return setCurrentVersion(client, version);
}

const untilStatus = (client: Client, version: WorkerDeploymentVersion, status: VersionStatus) =>
  eventually(
    async () => ((await describeDeploymentVersion(client, version)).status === status ? true : undefined),
    30_000,
  );

test('runs started on build A finish on A while build B takes new runs; then A is drained', async () => {
  const deploymentName = uniqueId('tao-versioning');
  const taskQueue = uniqueId('versioning');
  const A = { deploymentName, buildId: 'build-a' };
  const B = { deploymentName, buildId: 'build-b' };
  // Each build's executor signs its outputs, and A's first steps wait at a gate until B has taken over.
  const held = ['a1-x', 'a1-y', 'a2-0', 'a3-1'];
  const gate = new GateExecutor(new ScriptExecutor({ default: { output: 'A {{taskId}}' } }), (taskId) =>
    held.includes(taskId),
  );
  const onA = new RecordingExecutor(gate);
  const onB = new RecordingExecutor(new ScriptExecutor({ default: { output: 'B {{taskId}}' } }));

  await withWorker(
    { executor: onA, taskQueue, workerDeploymentOptions: { version: A } },
    async ({ client }) => {
      expect(await promote(client, A)).toEqual({});
      const start = (type: string, workflowId: string, input: unknown) =>
        client.workflow.start(type, { taskQueue, workflowId: uniqueId(workflowId), args: [input] });
      const a1 = await start('parallelWorkflow', 'a1', { specs: [spec('a1-x'), spec('a1-y')] });
      // Split into three child workflows, one after another: the later two start after B is current.
      const a2 = await start('parallelWorkflow', 'a2', {
        specs: [spec('a2-0'), spec('a2-1'), spec('a2-2')],
        maxStepsPerRun: 1,
        concurrency: 1,
      });
      // A round per execution: rounds 2 and 3 continue as new after B is current.
      const a3 = await start('loopWorkflow', 'a3', {
        initial: [spec('a3-1')],
        next: { specs: [{ taskId: 'a3-{{round}}', agent: 'explore', prompt: 'again' }] },
        maxIterations: 3,
        roundsPerRun: 1,
      });
      for (const taskId of held) await untilIn(onA.started, taskId);

      await withWorker({ executor: onB, taskQueue, workerDeploymentOptions: { version: B } }, async () => {
        expect(await promote(client, B)).toEqual({ previousBuildId: 'build-a' });
        const b1 = await start('parallelWorkflow', 'b1', { specs: [spec('b1-x')] });
        expect((await b1.result()).map((o: StepOutcome) => o.output)).toEqual(['B b1-x']);
        // A's runs are still open, so A drains rather than being drained.
        await untilStatus(client, A, 'draining');

        for (const taskId of held) gate.release(taskId);
        expect((await a1.result()).map((o: StepOutcome) => o.output)).toEqual(['A a1-x', 'A a1-y']);
        expect((await a2.result()).map((o: StepOutcome) => o.output)).toEqual(['A a2-0', 'A a2-1', 'A a2-2']);
        expect((await a3.result()).map((o: StepOutcome) => o.output)).toEqual(['A a3-3']);
        expect(onB.started).toEqual(['b1-x']);

        for (const run of [a1, a2, a3]) {
          expect(new Set(await buildsOf(client, run.workflowId, run.firstExecutionRunId))).toEqual(
            new Set(['build-a']),
          );
          expect(await pinnedBuild(client, run.workflowId)).toEqual({ buildId: 'build-a', pinned: true });
        }
        expect(new Set(await buildsOf(client, b1.workflowId, b1.firstExecutionRunId))).toEqual(
          new Set(['build-b']),
        );
        expect(await pinnedBuild(client, b1.workflowId)).toEqual({ buildId: 'build-b', pinned: true });

        await untilStatus(client, A, 'drained');
        // The deployment's summary of its versions is a second view on the server, which can catch up with
        // the version's own status a moment later (seen once in a clean CI run).
        const deployment = await eventually(async () => {
          const described = await describeDeployment(client, deploymentName);
          const a = described.versions.find((version) => version.buildId === 'build-a');
          return a?.status === 'drained' ? described : undefined;
        }, 30_000);
        expect(deployment.currentBuildId).toBe('build-b');
        expect(deployment.versions.map((v) => [v.buildId, v.status])).toEqual([
          ['build-b', 'current'],
          ['build-a', 'drained'],
        ]);
      });
    },
  );
});
