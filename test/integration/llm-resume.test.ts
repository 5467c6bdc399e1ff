/**
 * The acceptance test for resume inside an agent step, through Temporal with
 * real processes: a 10-turn tool-using agent runs on a worker process against
 * the fake provider, the worker is SIGKILLed while turn 7 is in flight, and a
 * replacement worker finishes the step. The replacement asks only for turns
 * 7..10, no recorded tool call runs twice, usage counts each answered turn
 * once, and the step's history does not grow with its number of turns.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { type Payload, defaultPayloadConverter } from '@temporalio/common';
import type { StepOutcome } from '../../src/contracts';
import { LlmExecutor } from '../../src/executors/llm/llm-executor';
import type { FakeRequest } from '../support/fake-http';
import { eventually } from '../support/gate-executor';
import { PROTOCOLS, type ProtocolHarness } from '../support/llm-harness';
import { closeDevClient, devClient, uniqueId, withWorker } from '../support/temporal';
import { startWorkerProcess, stopWorkerProcesses } from '../support/worker-process';

afterAll(async () => {
  await stopWorkerProcesses();
  await closeDevClient();
});

const TURNS = 10;
const KILL_AT_TURN = 7;
const stepPolicy = { heartbeatTimeoutMs: 3_000, initialRetryIntervalMs: 200 };

/** Which turn a request asks for: one more than the answers already in its conversation. */
const turnOf = (request: FakeRequest) =>
  (request.body.messages as { role: string }[]).filter((m) => m.role === 'assistant').length + 1;

/** Turns 1..turns-1 each run one shell tick (a line per run, on disk); the last answers. */
const answer = (protocol: ProtocolHarness, n: number, turns: number) =>
  n < turns
    ? protocol.toolCalls([{ name: 'run_shell', input: { command: `echo ${n} >> ticks.log` } }], [100 * n, 10])
    : protocol.text(`done after ${turns} turns`, [100 * n, 10]);

function llmConfig(protocol: ProtocolHarness, baseUrl: string, workspace: string) {
  return {
    provider: 'fake',
    model: 'fake-model',
    workspace,
    providers: { fake: { type: protocol.type, baseUrl } },
    agents: { shell: { systemPrompt: 'You tick.', tools: ['run_shell' as const], maxSteps: 12 } },
  };
}

const spec = { taskId: 'ticker', agent: 'shell', prompt: 'tick nine times, then say done' };

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
      return answer(protocol, n, TURNS);
    });
    try {
      const configFile = join(dir, 'llm.json');
      writeFileSync(configFile, JSON.stringify(llmConfig(protocol, protocol.baseUrl(server), dir)));
      const config = {
        taskQueue: uniqueId('llm-resume'),
        storeDir: join(dir, 'store'),
        logFile: join(dir, 'side-effects.log'),
        script: {},
        executorRef: `llm:${configFile}`,
      };
      const first = await startWorkerProcess(config);
      const client = await devClient();
      const handle = await client.workflow.start('parallelWorkflow', {
        taskQueue: config.taskQueue,
        workflowId: uniqueId('llm-resume'),
        args: [{ specs: [spec], stepPolicy }],
      });

      // How long the state saved just before turn 7's request took to show on the server.
      const landed = await eventually(async () => {
        const state = await savedState(handle);
        return turn7At && state && state.rounds === KILL_AT_TURN - 1 && lastIsToolResult(state)
          ? Date.now() - turn7At
          : undefined;
      });
      await sleep(1_000); // well into turn 7: the model is "thinking"
      const requestsBeforeKill = server.requests.length;
      await first.kill();
      killed = true;
      expect(readTicks(dir)).toEqual([1, 2, 3, 4, 5, 6]);

      await startWorkerProcess(config);
      const [outcome] = (await handle.result()) as StepOutcome[];
      const paid = Array.from({ length: TURNS }, (_, i) => 100 * (i + 1)).reduce((a, b) => a + b);
      expect(outcome).toMatchObject({
        success: true,
        output: `done after ${TURNS} turns`,
        usage: { inputTokens: paid, outputTokens: 10 * TURNS },
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
    const server = await protocol.start((request) => answer(protocol, turnOf(request), turns));
    try {
      const executor = await LlmExecutor.create(llmConfig(protocol, protocol.baseUrl(server), dir));
      await withWorker({ executor }, async ({ client, taskQueue }) => {
        const handle = await client.workflow.start('parallelWorkflow', {
          taskQueue,
          workflowId: uniqueId('llm-history'),
          args: [{ specs: [spec], stepPolicy }],
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

function readTicks(dir: string): number[] {
  return readFileSync(join(dir, 'ticks.log'), 'utf8').trim().split('\n').map(Number);
}

function recordFigure(line: string): void {
  console.log(line); // the figures quoted in BENCHMARKS.md and the issue notes come from these lines
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
