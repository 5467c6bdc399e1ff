/**
 * The acceptance test for resume inside an agent step, through Temporal with
 * real processes: a 10-turn tool-using agent runs on a worker process against
 * the fake provider, the worker is SIGKILLed while turn 7 is in flight, and a
 * replacement worker finishes the step. The replacement asks only for turns
 * 7..10, no recorded tool call runs twice, usage counts each answered turn
 * once, and the step's history does not grow with its number of turns.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { type Payload, defaultPayloadConverter } from '@temporalio/common';
import type { StepOutcome } from '../../src/contracts';
import { LlmExecutor } from '../../src/executors/llm/llm-executor';
import { eventually } from '../support/gate-executor';
import { PROTOCOLS } from '../support/llm-harness';
import {
  TICKING_SPEC,
  paidFor,
  readTicks,
  tickingAnswer,
  tickingConfig,
  turnOf,
} from '../support/ticking-agent';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';
import { CRASH_STEP_POLICY, startTickingStepOnProcess, stopWorkerProcesses } from '../support/worker-process';

afterAll(async () => {
  await stopWorkerProcesses();
  await closeDevClient();
});

const TURNS = 10;
const KILL_AT_TURN = 7;

describe.each(PROTOCOLS)('an llm step over $type survives a SIGKILLed worker', (protocol) => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'tao-llm-resume-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('killed during turn 7: the replacement sends at most 4 model requests, 11 in all', async () => {
    let killed = false;
    let turn7At = 0;
    const server = await protocol.start((request) => {
      const n = turnOf(request);
      if (n === KILL_AT_TURN && !killed) {
        turn7At ||= Date.now();
        return { hang: true };
      }
      return tickingAnswer(protocol, n, TURNS);
    });
    try {
      const { first, handle, startReplacement } = await startTickingStepOnProcess(protocol, server, dir);

      // How long the state saved just before turn 7's request took to show on the server.
      const landed = await eventually(async () => {
        const state = await savedState(handle);
        return turn7At && state && state.rounds === KILL_AT_TURN - 1 && lastIsToolResult(state)
          ? Date.now() - turn7At
          : undefined;
      });
      const requestsBeforeKill = server.requests.length;
      await first.kill();
      killed = true;
      expect(readTicks(dir)).toEqual([1, 2, 3, 4, 5, 6]);

      await startReplacement();
      const [outcome] = (await handle.result()) as StepOutcome[];
      expect(outcome).toMatchObject({
        success: true,
        output: `done after ${TURNS} turns`,
        usage: paidFor(TURNS),
      });
      expect(requestsBeforeKill).toBe(KILL_AT_TURN);
      expect(server.requests.length - requestsBeforeKill).toBeLessThanOrEqual(4);
      expect(server.requests).toHaveLength(11);
      expect(readTicks(dir)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      recordFigure(`${protocol.type}: state of turn 6 on the server ${landed} ms after turn 7 was requested`);
    } finally {
      await server.close();
    }
  });
});

test("one step's history is the same size at 2 turns and at 10", async () => {
  const protocol = PROTOCOLS[0]!;
  const sizes: { events: number; bytes: number }[] = [];
  for (const turns of [2, 10]) {
    const dir = mkdtempSync(join(tmpdir(), 'tao-llm-history-'));
    const server = await protocol.start((request) => tickingAnswer(protocol, turnOf(request), turns));
    try {
      const executor = await LlmExecutor.create(tickingConfig(protocol, protocol.baseUrl(server), dir));
      await withWorker({ executor }, async ({ client, taskQueue }) => {
        const handle = await client.workflow.start('parallelWorkflow', {
          taskQueue,
          workflowId: uniqueId('llm-history'),
          args: [{ specs: [TICKING_SPEC], stepPolicy: CRASH_STEP_POLICY }],
        });
        await handle.result();
        const events = (await handle.fetchHistory()).events ?? [];
        sizes.push({ events: events.length, bytes: JSON.stringify(events).length });
      });
      expect(server.requests).toHaveLength(turns);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const [few, many] = sizes;
  expect(many!.events).toBe(few!.events);
  // Only the numbers in the final outcome differ (usage, the answer's text).
  expect(Math.abs(many!.bytes - few!.bytes)).toBeLessThan(64);
  recordFigure(
    `history of one step: ${few!.events} events / ${few!.bytes} B at 2 turns, ${many!.events} / ${many!.bytes} B at 10`,
  );
});

interface SavedConversation {
  rounds: number;
  messages: { role: string }[];
}

/** The conversation state in the running step's heartbeat details, as the server holds it. */
async function savedState(handle: WorkflowHandle): Promise<SavedConversation | undefined> {
  const { raw } = await handle.describe();
  const payload = raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0];
  if (!payload) return undefined;
  const details = defaultPayloadConverter.fromPayload<{ resume?: SavedConversation }>(payload as Payload);
  return details.resume;
}

const lastIsToolResult = (state: SavedConversation) => state.messages.at(-1)?.role === 'tool';

function recordFigure(line: string): void {
  console.log(line); // the figures quoted in BENCHMARKS.md and the issue notes come from these lines
}
