/**
 * A run of llm steps against the fake OpenAI server over real HTTP: a real
 * worker on the dev server running the llm executor in a scratch workspace,
 * each model request kept and answered by the test's `reply`.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { LlmConfigFile } from '../../src/executors/llm/config';
import type { FakeReply, FakeRequest } from './fake-http';
import { startFakeOpenAI } from './fake-openai';
import { PROTOCOLS, fakeExecutor, makeWorkspace } from './llm-harness';
import { type WorkerHarness, uniqueId, withWorker } from './temporal';

export interface FakeModelRun extends WorkerHarness {
  /** Every request the model got, oldest first. */
  requests: FakeRequest[];
  /** The agents' workspace: their file tools and `run_shell` work here. */
  workspace: string;
  /** Starts a parallel run of `input` on the worker. */
  start: (input: object) => Promise<WorkflowHandle>;
}

export async function withFakeModel(
  reply: (request: FakeRequest, index: number) => FakeReply,
  body: (run: FakeModelRun) => Promise<void>,
  /** The llm config's agents and the rest, over the fake provider and the workspace. */
  config: LlmConfigFile = {},
  /** The worker's environment, as the config's `env` lists of MCP servers read it. */
  env: NodeJS.ProcessEnv = {},
) {
  const requests: FakeRequest[] = [];
  const server = await startFakeOpenAI((request) => {
    requests.push(request);
    return reply(request, requests.length - 1);
  });
  const { root } = makeWorkspace();
  const executor = await fakeExecutor(PROTOCOLS[0]!, server, root, config, env);
  try {
    await withWorker({ executor }, async (harness) => {
      const start = (input: object) =>
        harness.client.workflow.start('parallelWorkflow', {
          taskQueue: harness.taskQueue,
          workflowId: uniqueId('fake-model'),
          args: [input],
        });
      await body({ ...harness, requests, workspace: root, start });
    });
  } finally {
    await executor.close();
    await server.close();
    rmSync(dirname(root), { recursive: true, force: true });
  }
}
