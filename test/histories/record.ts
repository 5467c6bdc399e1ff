/**
 * Records `test/histories/*.json`: `npm run histories:record -- [scenario…]`
 * (all scenarios when none is named). Histories are only ever added: they are
 * what proves today's code still replays yesterday's runs, and
 * test/repo/histories-append-only.test.ts fails CI on a commit that changes or
 * deletes one, unless its message says `[histories: new major]`.
 * Run it after a deliberate workflow change, and commit the new histories with
 * the change (an incompatible change needs `patched()` so old histories still replay).
 */
import '../support/quiet-runtime';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { ScriptExecutor } from '../../src/executors/script';
import { startDevServer } from '../../src/local/dev-server';
import { ensureTemporalBinaries } from '../../src/local/temporal-binaries';
import { FileOutcomeStore } from '../../src/outcomes';
import { FileSessionStore } from '../../src/stores/file-store';
import { createTaoWorker } from '../../src/worker';
import { SCENARIOS, SCENARIO_SCRIPT, historyFile, scenarioWorkflowId } from './scenarios';

async function main(): Promise<void> {
  const { cli } = ensureTemporalBinaries();
  const server = await startDevServer({ cli });
  const storeDir = mkdtempSync(join(tmpdir(), 'tao-histories-'));
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const connection = await Connection.connect({ address: server.address });
  try {
    const client = new Client({ connection });
    const store = new FileSessionStore(storeDir);
    const outcomes = new FileOutcomeStore(storeDir);
    const workerOn = (taskQueue: string, executor: ScriptExecutor) =>
      createTaoWorker({
        connection: nativeConnection,
        executor,
        store,
        outcomes,
        taskQueue,
        workflowsPath: require.resolve('../support/test-workflows'),
      });
    const worker = await workerOn('histories', new ScriptExecutor(SCENARIO_SCRIPT));
    const readingMessages = await workerOn(
      'histories-messages',
      Object.assign(new ScriptExecutor(SCENARIO_SCRIPT), { acceptsMessages: true }),
    );
    const both = (run: () => Promise<void>) => worker.runUntil(() => readingMessages.runUntil(run));
    await both(async () => {
      const wanted = process.argv.slice(2);
      for (const scenario of SCENARIOS.filter((s) => wanted.length === 0 || wanted.includes(s.name))) {
        const workflowId = scenarioWorkflowId(scenario.name);
        const checkpointId = (scenario.input as { checkpointId?: string }).checkpointId ?? workflowId;
        await scenario.seedStore?.(storeDir, checkpointId);
        const handle = await client.workflow.start(scenario.workflowType, {
          taskQueue: scenario.messages ? 'histories-messages' : 'histories',
          workflowId,
          args: [scenario.input],
        });
        await scenario.drive?.(handle);
        const failed = await handle.result().then(
          () => false,
          () => true,
        );
        if (failed !== Boolean(scenario.fails))
          throw new Error(`${scenario.name}: unexpected ${failed ? 'failure' : 'success'}`);
        // The first run, which holds any continue-as-new, in the standard JSON export
        // (the same the Web UI downloads), so any history can be dropped in here.
        const json = execFileSync(cli, [
          'workflow',
          'show',
          '--address',
          server.address,
          '--workflow-id',
          workflowId,
          '--run-id',
          handle.firstExecutionRunId,
          '--output',
          'json',
        ]);
        writeFileSync(historyFile(scenario.name), json);
        console.log(`recorded ${scenario.name}`);
      }
    });
  } finally {
    await connection.close();
    await nativeConnection.close();
    await server.stop();
    rmSync(storeDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
