/**
 * The acceptance test for delegation through Temporal with real processes: a
 * lead agent calls `parallel_task` with three tasks, and its worker process
 * is SIGKILLed while task 2's model request is held open (tasks 1 and 3 have
 * finished). A replacement worker takes over. No finished task runs again,
 * none of the lead's answered turns is asked again, and its final answer
 * carries all three tasks' outputs: model requests total a clean run's count
 * plus the one that was in flight at the kill.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StepOutcome } from '../../src/contracts';
import {
  CLEAN_RUN_REQUESTS,
  PARTS,
  isLead,
  leadAnswer,
  partOf,
  writeDelegationConfig,
} from '../support/delegating-agent';
import { eventually } from '../support/gate-executor';
import { PROTOCOLS } from '../support/llm-harness';
import { closeDevClient, devClient } from '../support/temporal';
import { startLlmStepOnProcess, stopWorkerProcesses } from '../support/worker-process';

afterAll(async () => {
  await stopWorkerProcesses();
  await closeDevClient();
});

describe.each(PROTOCOLS)('delegation over $type survives a SIGKILLed worker', (protocol) => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'tao-delegation-crash-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('killed while task 2 runs: finished tasks and answered lead turns are not asked again', async () => {
    let killed = false;
    let holding = false;
    const seen: string[] = [];
    const server = await protocol.start((request) => {
      if (isLead(protocol, request)) {
        const { turn, reply } = leadAnswer(protocol, request);
        seen.push(turn);
        return reply;
      }
      const part = partOf(request);
      seen.push(`part:${part}`);
      if (part === '2' && !killed) {
        holding = true;
        return { hang: true };
      }
      return protocol.text(`finding of part ${part}`);
    });
    try {
      const configFile = writeDelegationConfig(dir, protocol, protocol.baseUrl(server));
      const client = await devClient();
      const run = await startLlmStepOnProcess({
        client,
        dir,
        configFile,
        spec: { taskId: 'lead', agent: 'lead', prompt: 'review everything' },
      });
      // Tasks 1 and 3 have finished (their outcomes are in history) and task 2's request is held.
      await eventually(async () => {
        const progress = await run.handle.query<{ steps: { taskId?: string; status: string }[] }>('progress');
        const status = (id: string) => progress.steps.find((s) => s.taskId === id)?.status;
        return holding && status('lead/task-1-1') === 'succeeded' && status('lead/task-1-3') === 'succeeded'
          ? true
          : undefined;
      }, 30_000);
      const beforeKill = seen.length;
      await run.first.kill();
      killed = true;
      await run.startReplacement();
      const [outcome] = (await run.handle.result()) as StepOutcome[];

      expect(outcome).toMatchObject({ taskId: 'lead', success: true });
      for (const n of PARTS) expect(outcome!.output).toContain(`finding of part ${n}`);
      expect(seen.slice(0, beforeKill).sort()).toEqual(['lead:1', 'part:1', 'part:2', 'part:3']);
      // After the kill: task 2 again (the request in flight), then the lead's second turn; nothing else.
      expect(seen.slice(beforeKill)).toEqual(['part:2', 'lead:2']);
      expect(seen.length).toBeLessThanOrEqual(CLEAN_RUN_REQUESTS + 1);
    } finally {
      await server.close();
    }
  });
});
