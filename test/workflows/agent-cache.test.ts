/**
 * An llm agent profile that opts its steps into the step cache across runs:
 * the LLM executor against a fake OpenAI server over real HTTP, on the dev server.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AgentStepSpecInput, StepOutcome } from '../../src/contracts';
import type { Progress } from '../../src/workflows/lib';
import { openAiText, startFakeOpenAI } from '../support/fake-openai';
import { PROTOCOLS, fakeExecutor, makeWorkspace } from '../support/llm-harness';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const step = (taskId: string, extra: Partial<AgentStepSpecInput> = {}): AgentStepSpecInput => ({
  taskId,
  agent: 'explore',
  prompt: `Summarise ${taskId}.`,
  ...extra,
});

test("an agent profile's cache serves its steps in later runs, without a model call or budget charge; a spec's own cache wins", async () => {
  const server = await startFakeOpenAI(() => openAiText('a summary'));
  const workspace = makeWorkspace().root;
  try {
    const executor = await fakeExecutor(PROTOCOLS[0]!, server, workspace, {
      agents: { explore: { cache: { ttlMs: 3_600_000 } } },
    });
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const run = async (specs: AgentStepSpecInput[], extra: object = {}) => {
        const handle = await client.workflow.start('parallelWorkflow', {
          taskQueue,
          workflowId: uniqueId('agent-cache'),
          args: [{ specs, ...extra }],
        });
        const result: StepOutcome[] = await handle.result();
        return { workflowId: handle.workflowId, result, progress: await handle.query<Progress>('progress') };
      };
      const first = await run([step('a'), step('b')]);
      expect(server.requests).toHaveLength(2);

      // An explicit concurrency, so the run reads the profiles' cache settings for them alone.
      const second = await run([step('a'), step('b'), step('c', { cache: { key: 'commit-2' } })], {
        concurrency: 1,
        budget: { maxSteps: 1 },
      });
      expect(server.requests).toHaveLength(3);
      expect(second.result.map((o) => o.output)).toEqual(['a summary', 'a summary', 'a summary']);
      expect(second.progress.steps.map((s) => [s.taskId, s.status, s.cachedFrom])).toEqual([
        ['a', 'cached', first.workflowId],
        ['b', 'cached', first.workflowId],
        ['c', 'succeeded', undefined],
      ]);
      expect(second.progress.budget?.spent.steps).toBe(1);
    });
  } finally {
    await server.close();
    rmSync(dirname(workspace), { recursive: true, force: true });
  }
});
