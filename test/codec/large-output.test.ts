import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { CLAIM_CHECK_ENCODING, taoDataConverter } from '../../src/codec';
import type { AgentStepSpec, StepOutcome } from '../../src/contracts';
import type { AgentExecutor } from '../../src/executors/executor';
import { spec } from '../support/specs';
import { closeDevClient, devClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const BIG = 3 * 1024 * 1024;

/** An agent that dumps a whole generated file as its answer, far beyond Temporal's 2 MB payload limit. */
const verboseAgent: AgentExecutor = {
  concurrencyHint: () => 4,
  async executeStep(step: AgentStepSpec): Promise<StepOutcome> {
    const output =
      step.agent === 'dump' ? `${step.taskId}:`.padEnd(BIG, 'x') : `saw ${step.prompt.length} chars`;
    return { taskId: step.taskId, agent: step.agent, sessionId: `s-${step.taskId}`, output, success: true };
  },
};

describe('outputs too large for a Temporal payload', () => {
  let blobDir: string;
  beforeEach(() => {
    blobDir = mkdtempSync(join(tmpdir(), 'tao-blobs-'));
  });
  afterEach(() => rmSync(blobDir, { recursive: true, force: true }));

  test('are kept out of history, passed between stages and resolved in results', async () => {
    const dataConverter = taoDataConverter({ blobs: blobDir });
    await withWorker({ executor: verboseAgent, dataConverter }, async ({ client: raw, taskQueue }) => {
      const client = new Client({ connection: raw.connection, dataConverter });
      const workflowId = uniqueId('large');
      const result: (StepOutcome | null)[] = await client.workflow.execute('pipelineWorkflow', {
        taskQueue,
        workflowId,
        args: [
          {
            items: ['a'],
            stages: [
              { taskId: 'dump-{{item}}', agent: 'dump', prompt: 'write it all out' },
              { taskId: 'read-{{item}}', agent: 'read', prompt: '{{prev.output}}' },
            ],
          },
        ],
      });
      // The second stage received the whole 3 MB output as its prompt.
      expect(result[0]!.output).toBe(`saw ${BIG} chars`);

      const parallel: StepOutcome[] = await client.workflow.execute('parallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('large-parallel'),
        args: [{ specs: [spec('big', 'dump'), spec('small', 'read')] }],
      });
      expect(parallel[0]!.output).toHaveLength(BIG);
      expect(parallel[0]!.output.startsWith('big:xxx')).toBe(true);

      // Seen without the codec, history holds references only.
      const history = await (await devClient()).workflow.getHandle(workflowId).fetchHistory();
      const bytes = JSON.stringify(history).length;
      expect(bytes).toBeLessThan(64 * 1024);
      expect(JSON.stringify(history)).toContain(Buffer.from(CLAIM_CHECK_ENCODING).toString('base64'));
      expect(readdirSync(blobDir).filter((f) => f.startsWith('sha256-')).length).toBeGreaterThan(0);
    });
  });
});
