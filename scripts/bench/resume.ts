/**
 * Resume inside an agent step, as the acceptance test runs it: a 10-turn
 * tool-using agent on a worker process against the fake OpenAI server, the
 * worker SIGKILLed while turn 7 is in flight, a replacement finishing the step.
 * Counts the model requests each attempt sent and the tool runs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { StepOutcome } from '../../src/contracts';
import { PROTOCOLS } from '../../test/support/llm-harness';
import {
  TICKING_SPEC,
  paidFor,
  readTicks,
  tickingAnswer,
  tickingConfig,
  turnOf,
} from '../../test/support/ticking-agent';
import { startLlmStepOnProcess } from '../../test/support/worker-process';

const TURNS = 10;
const KILL_AT_TURN = 7;

export interface Resumed {
  beforeKill: number;
  afterKill: number;
  toolRuns: number;
  usageOnce: boolean;
}

export async function resumeAfterKill(client: Client): Promise<Resumed> {
  const protocol = PROTOCOLS[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'tao-bench-resume-'));
  let killed = false;
  const server = await protocol.start((request) => {
    const n = turnOf(request);
    return n === KILL_AT_TURN && !killed ? { hang: true } : tickingAnswer(protocol, n, TURNS);
  });
  try {
    const configFile = join(dir, 'llm.json');
    writeFileSync(configFile, JSON.stringify(tickingConfig(protocol, protocol.baseUrl(server), dir)));
    const { first, handle, startReplacement } = await startLlmStepOnProcess({
      client,
      dir,
      configFile,
      spec: TICKING_SPEC,
    });
    while (server.requests.length < KILL_AT_TURN) await sleep(50);
    await sleep(1_500); // the model is "thinking" about turn 7; the last turn's state has landed
    const beforeKill = server.requests.length;
    await first.kill();
    killed = true;
    const replacement = await startReplacement();
    const [outcome] = (await handle.result()) as StepOutcome[];
    await replacement.stop();
    const paid = paidFor(TURNS);
    return {
      beforeKill,
      afterKill: server.requests.length - beforeKill,
      toolRuns: readTicks(dir).length,
      usageOnce:
        outcome?.usage?.inputTokens === paid.inputTokens && outcome.usage.outputTokens === paid.outputTokens,
    };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
