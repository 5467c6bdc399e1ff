/**
 * The runs the chaos test (test/integration/chaos.test.ts) and the chaos
 * benchmark section (scripts/bench/chaos.ts) kill on a seeded schedule
 * (kill-schedule.ts), each on real worker processes against the shared dev
 * server: an llm step with tools, a delegating lead agent, and `command` steps.
 * Each returns what it saw; the callers judge it (the test with expect, the
 * benchmark by summing), by the rule kill-schedule.ts states.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { StepOutcome } from '../../src/contracts';
import { seededRandom } from '../../scripts/bench/workload';
import {
  CLEAN_RUN_REQUESTS,
  PARTS,
  isLead,
  leadAnswer,
  partOf,
  writeDelegationConfig,
} from './delegating-agent';
import type { FakeReply, FakeServer } from './fake-http';
import {
  type Kill,
  type KillSchedule,
  finishedStepsRunAgain,
  followSchedule,
  killSchedule,
  redoAllowance,
} from './kill-schedule';
import { PROTOCOLS } from './llm-harness';
import { countedCalls, writeCounterAgentConfig } from './mcp-harness';
import { paidFor, readTicks, tickAndCountAnswer, turnOf } from './ticking-agent';
import {
  CRASH_STEP_POLICY,
  type WorkerProcess,
  startLlmStepOnProcess,
  startWorkerProcess,
} from './worker-process';

export interface ChaosRun {
  scenario: string;
  schedule: KillSchedule;
  kills: Kill[];
  /** The run's outcome, reduced to what a run without kills must equal… */
  outcome: unknown;
  /** …which is this. */
  expected: unknown;
  /** Things done again: model requests, tool calls or steps beyond a clean run's. */
  redone: number;
  /** What the kills allowed to be done again (kill-schedule.ts: one thing per step caught in flight). */
  allowance: number;
  /** Side effects or results a clean run has that this one lacks. */
  lost: string[];
  /** Steps recorded complete at a kill that started again. */
  finishedRunAgain: string[];
  detail: Record<string, unknown>;
}

export interface ChaosOptions {
  client: Client;
  seed: number;
  kills: number;
  /** A store reference (`postgres://…`); the file store in the run's directory otherwise. */
  storeRef?: string;
}

/** Side effects beyond the first of each: a tool call that ran again. */
const repeats = (effects: readonly unknown[]) => effects.length - new Set(effects).size;

/**
 * The fake provider pauses before each streamed event for some turns, so kill
 * points land as often inside a model request as inside the tools.
 */
function turnPacing(seed: number): (key: string) => Pick<FakeReply, 'chunkDelayMs'> {
  const random = seededRandom(seed ^ 0x5bd1e995);
  const paces = new Map<string, number>();
  return (key) => {
    if (!paces.has(key)) paces.set(key, random() < 0.5 ? 0 : 2 + Math.floor(random() * 8));
    return { chunkDelayMs: paces.get(key)! };
  };
}

async function inTempDir<T>(prefix: string, body: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `tao-chaos-${prefix}-`));
  try {
    return await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Starts the llm step on a worker process, kills on `schedule` by the model
 * requests `server` receives, and waits for the step's outcome; leaves no
 * worker running.
 */
async function llmStepKilled(
  options: ChaosOptions,
  schedule: KillSchedule,
  server: FakeServer,
  step: Omit<Parameters<typeof startLlmStepOnProcess>[0], 'client' | 'storeRef'>,
): Promise<{ kills: Kill[]; outcome: StepOutcome | undefined; logFile: string }> {
  const run = await startLlmStepOnProcess({
    ...step,
    client: options.client,
    ...(options.storeRef ? { storeRef: options.storeRef } : {}),
  });
  let last: WorkerProcess = run.first;
  try {
    const logFile = join(step.dir, 'side-effects.log');
    const { kills, worker } = await followSchedule(schedule, {
      activities: () => server.requests.length,
      first: run.first,
      startReplacement: run.startReplacement,
      handle: run.handle,
      logFile,
    });
    last = worker;
    const [outcome] = (await run.handle.result()) as StepOutcome[];
    return { kills, outcome, logFile };
  } finally {
    await last.stop();
    await run.first.kill();
  }
}

const LLM_TURNS = 10;
const EVERY_TICK = Array.from({ length: LLM_TURNS - 1 }, (_, i) => i + 1);

/**
 * One llm step of 10 turns over the fake OpenAI server: turns 1..9 each call
 * `run_shell` (appending the turn to ticks.log) and the test MCP server's
 * `count` (appending it to calls.log), turn 10 answers. Kill points follow
 * model requests, each up to 60 ms after one arrives: in the request, the tools
 * or the state save.
 */
export async function chaosLlmStep(options: ChaosOptions): Promise<ChaosRun> {
  const protocol = PROTOCOLS[0]!;
  const schedule = killSchedule(options.seed, {
    kills: options.kills,
    activities: LLM_TURNS,
    maxDelayMs: 60,
  });
  const pace = turnPacing(options.seed);
  return inTempDir('llm', async (dir) => {
    const server = await protocol.start((request) => {
      const n = turnOf(request);
      return { ...tickAndCountAnswer(protocol, n, LLM_TURNS), ...pace(String(n)) };
    });
    try {
      const countFile = join(dir, 'calls.log');
      const configFile = writeCounterAgentConfig(
        dir,
        { type: protocol.type, baseUrl: protocol.baseUrl(server) },
        'worker',
        { systemPrompt: 'You tick and count.', tools: ['run_shell'], maxSteps: 12 },
      );
      const { kills, outcome, logFile } = await llmStepKilled(options, schedule, server, {
        dir,
        configFile,
        spec: {
          taskId: 'tick-and-count',
          agent: 'worker',
          prompt: 'tick and count nine times, then say done',
        },
        env: { MCP_COUNT_FILE: countFile },
      });
      const ticks = readTicks(dir);
      const counts = countedCalls(countFile).map(Number);
      const again = {
        requests: server.requests.length - LLM_TURNS,
        ticks: repeats(ticks),
        counts: repeats(counts),
      };
      return {
        scenario: `llm step, ${options.storeRef ? 'PostgreSQL' : 'file'} store`,
        schedule,
        kills,
        outcome: {
          success: outcome?.success,
          output: outcome?.output,
          usage: { inputTokens: outcome?.usage?.inputTokens, outputTokens: outcome?.usage?.outputTokens },
        },
        expected: { success: true, output: `done after ${LLM_TURNS} turns`, usage: paidFor(LLM_TURNS) },
        redone: again.requests + again.ticks + again.counts,
        allowance: redoAllowance(kills),
        lost: [
          ...EVERY_TICK.filter((n) => !ticks.includes(n)).map((n) => `tick ${n}`),
          ...EVERY_TICK.filter((n) => !counts.includes(n)).map((n) => `count ${n}`),
        ],
        finishedRunAgain: finishedStepsRunAgain(kills, logFile),
        detail: { again, ticks, counts },
      };
    } finally {
      await server.close();
    }
  });
}

/**
 * A lead agent (fake OpenAI, delegating-agent.ts) that delegates three parts
 * with `parallel_task` and merges their findings; each model request answered
 * after a seeded pause or at once. Kill points follow model requests (the
 * lead's and the parts'), up to 80 ms after one.
 */
export async function chaosDelegation(options: ChaosOptions): Promise<ChaosRun> {
  const protocol = PROTOCOLS[0]!;
  const schedule = killSchedule(options.seed, {
    kills: options.kills,
    activities: CLEAN_RUN_REQUESTS,
    maxDelayMs: 80,
  });
  const pace = turnPacing(options.seed);
  const seen: string[] = [];
  return inTempDir('delegation', async (dir) => {
    const server = await protocol.start((request) => {
      if (isLead(protocol, request)) {
        const { turn, reply } = leadAnswer(protocol, request);
        seen.push(turn);
        return { ...reply, ...pace(turn) };
      }
      const part = partOf(request);
      seen.push(`part:${part}`);
      return { ...protocol.text(`finding of part ${part}`), ...pace(`part:${part}`) };
    });
    try {
      const { kills, outcome, logFile } = await llmStepKilled(options, schedule, server, {
        dir,
        configFile: writeDelegationConfig(dir, protocol, protocol.baseUrl(server)),
        spec: { taskId: 'lead', agent: 'lead', prompt: 'review everything' },
      });
      const findings = PARTS.map((n) => `finding of part ${n}`);
      const found = findings.filter((f) => outcome?.output.includes(f));
      return {
        scenario: 'delegation',
        schedule,
        kills,
        outcome: { success: outcome?.success, findings: found },
        expected: { success: true, findings },
        redone: seen.length - CLEAN_RUN_REQUESTS,
        allowance: redoAllowance(kills),
        lost: [
          ...findings.filter((f) => !found.includes(f)),
          ...['lead:1', 'lead:2', ...PARTS.map((n) => `part:${n}`)].filter((r) => !seen.includes(r)),
        ],
        finishedRunAgain: finishedStepsRunAgain(kills, logFile),
        detail: { requests: seen },
      };
    } finally {
      await server.close();
    }
  });
}

const COMMAND_STEPS = 6;

/**
 * Six `command` steps, two at a time, each a shell program that appends
 * `start <id>` to effects.log, works for a seeded 50–300 ms, appends
 * `done <id>` and prints its output. Kill points follow steps starting, up
 * to 300 ms after one.
 */
export async function chaosCommandSteps(options: ChaosOptions): Promise<ChaosRun> {
  const schedule = killSchedule(options.seed, {
    kills: options.kills,
    activities: COMMAND_STEPS,
    maxDelayMs: 300,
  });
  const random = seededRandom(options.seed ^ 0x27d4eb2f);
  const ids = Array.from({ length: COMMAND_STEPS }, (_, i) => `c${i + 1}`);
  const work = new Map(ids.map((id) => [id, (50 + Math.floor(random() * 250)) / 1000]));
  return inTempDir('command', async (dir) => {
    const program = join(dir, 'agent.sh');
    writeFileSync(
      program,
      [
        '#!/bin/sh',
        // $1: the step's id, $2: seconds of work. Each line is one O_APPEND write: a side effect on disk.
        'echo "start $1" >> effects.log',
        'sleep "$2"',
        'echo "done $1" >> effects.log',
        'echo "output of $1"',
      ].join('\n'),
      { mode: 0o755 },
    );
    const configFile = join(dir, 'command.json');
    writeFileSync(
      configFile,
      JSON.stringify({ default: { argv: [program, '{{taskId}}', '{{prompt}}'], cwd: dir } }),
    );
    const logFile = join(dir, 'side-effects.log');
    const config = {
      taskQueue: `chaos-command-${options.seed}-${Date.now()}`,
      storeDir: join(dir, 'store'),
      ...(options.storeRef ? { storeRef: options.storeRef } : {}),
      logFile,
      script: {},
      executorRef: `command:${configFile}`,
    };
    const first = await startWorkerProcess(config);
    let last = first;
    const handle = await options.client.workflow.start('parallelWorkflow', {
      taskQueue: config.taskQueue,
      workflowId: config.taskQueue,
      args: [
        {
          specs: ids.map((taskId) => ({ taskId, agent: 'general', prompt: String(work.get(taskId)) })),
          concurrency: 2,
          stepPolicy: CRASH_STEP_POLICY,
        },
      ],
    });
    const effectsFile = join(dir, 'effects.log');
    const effects = () =>
      existsSync(effectsFile) ? readFileSync(effectsFile, 'utf8').split('\n').filter(Boolean) : [];
    try {
      const followed = await followSchedule(schedule, {
        activities: () => effects().filter((line) => line.startsWith('start ')).length,
        first,
        startReplacement: () => startWorkerProcess(config),
        handle,
        logFile,
      });
      last = followed.worker;
      const outcomes = (await handle.result()) as StepOutcome[];
      const lines = effects();
      const starts = lines.filter((line) => line.startsWith('start '));
      return {
        scenario: 'command steps',
        schedule,
        kills: followed.kills,
        outcome: outcomes.map((o) => ({ taskId: o.taskId, success: o.success, output: o.output.trim() })),
        expected: ids.map((taskId) => ({ taskId, success: true, output: `output of ${taskId}` })),
        redone: starts.length - COMMAND_STEPS,
        allowance: redoAllowance(followed.kills),
        lost: ids.filter((id) => !lines.includes(`done ${id}`)),
        finishedRunAgain: finishedStepsRunAgain(followed.kills, logFile),
        detail: { effects: lines },
      };
    } finally {
      await last.stop();
      await first.kill();
    }
  });
}
