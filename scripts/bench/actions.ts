/**
 * What an llm step bills in Temporal Cloud Actions, at a step policy: one
 * `parallelWorkflow` of one 10-tool-call conversation (11 slow model turns
 * against the fake OpenAI server) on a worker process, counted two ways.
 *
 * - The server's own `action` counter (the Temporal server's metric of the
 *   operations Cloud bills; the dev server serves it with `--metrics-port`),
 *   by action type, over the run. It is the only place heartbeats that
 *   reached the server and queries (the step asks its run for messages
 *   before each model call) show: history holds neither.
 * - History, by Cloud's published rules (docs.temporal.io/cloud/actions):
 *   workflow start, each activity attempt, timers, signals, accepted
 *   updates, search-attribute upserts, child workflows (two each),
 *   continue-as-new. A cross-check of the counter's share of them.
 *
 * Then failover at the same policy: the worker SIGKILLed in the middle of a
 * turn, a replacement started at once, and the time from the kill to the
 * step's next model request, which the replacement's retry sends.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { StepPolicy } from '../../src/contracts';
import type { FakeReply, FakeServer } from '../../test/support/fake-http';
import { PROTOCOLS } from '../../test/support/llm-harness';
import { TICKING_SPEC, tickingAnswer, tickingConfig } from '../../test/support/ticking-agent';
import { type LlmStepRun, startLlmStepOnProcess } from '../../test/support/worker-process';

/** 10 tool calls, then the answer. */
export const TURNS = 11;
/**
 * The pause before each of a turn's 12 stream events: a turn of 12 s, its
 * text streaming for 4 of them, as a model that thinks, says what it will do
 * and calls a tool does.
 */
export const EVENT_EVERY_MS = 1_000;
/** The turn the worker is killed in, and how far into it. */
export const KILL_IN_TURN = 4;
export const KILL_AFTER_MS = 6_000;
/** The server reports its counters to the metrics endpoint on an interval; this outlasts it. */
const COUNTER_SETTLES_MS = 3_000;

export interface StepActions {
  stepPolicy: StepPolicy;
  /** From the workflow's start to its result. */
  stepMs: number;
  /** The server's `action` counter over the run, by action type. */
  counted: Record<string, number>;
  total: number;
  heartbeats: number;
  /** Billable events in the run's history, by Cloud's rules, by kind. */
  inHistory: Record<string, number>;
  perAgentHour: { actions: number; heartbeats: number };
  /** From the SIGKILL to the step's next model request, sent by the replacement. */
  failoverMs: number;
}

export async function stepActions(client: Client, metricsUrl: string, stepPolicy: StepPolicy) {
  const protocol = PROTOCOLS[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'tao-bench-actions-'));
  const server = await protocol.start((request) => slowTurn(request.body));
  try {
    const configFile = join(dir, 'llm.json');
    writeFileSync(configFile, JSON.stringify(tickingConfig(protocol, protocol.baseUrl(server), dir)));
    const start = () => startLlmStepOnProcess({ client, dir, configFile, spec: TICKING_SPEC, stepPolicy });

    // What an earlier run did reaches the counter on the server's reporting interval: let it land first.
    await sleep(COUNTER_SETTLES_MS);
    const before = await actionCounter(metricsUrl);
    const run = await start();
    const started = Date.now();
    await run.handle.result();
    const stepMs = Date.now() - started;
    await run.first.stop();
    await sleep(COUNTER_SETTLES_MS);
    const counted = difference(await actionCounter(metricsUrl), before);
    const total = Object.values(counted).reduce((a, b) => a + b, 0);
    const heartbeats = counted.grpc_RecordActivityTaskHeartbeat ?? 0;
    const history = await run.handle.fetchHistory();
    const hourly = (n: number) => Math.round((n / stepMs) * 3_600_000);
    return {
      stepPolicy,
      stepMs,
      counted,
      total,
      heartbeats,
      inHistory: billableEvents(history.events ?? []),
      perAgentHour: { actions: hourly(total), heartbeats: hourly(heartbeats) },
      failoverMs: await failover(await start(), server),
    } satisfies StepActions;
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Turn `n`: a few words, then its tool call (or the answer), each stream event {@link EVENT_EVERY_MS} after the last. */
function slowTurn(body: { messages: { role: string }[] }): FakeReply {
  const n = body.messages.filter((m) => m.role === 'assistant').length + 1;
  const reply = tickingAnswer(PROTOCOLS[0]!, n, TURNS);
  const [choice] = (reply.body as { choices: [{ message: { content: string | null } }] }).choices;
  choice.message.content ??= `Turn ${n}: the ticks so far are in order, so one more.`;
  return { ...reply, chunkDelayMs: EVENT_EVERY_MS };
}

async function failover(run: LlmStepRun, server: FakeServer): Promise<number> {
  while (server.requests.length < KILL_IN_TURN) await sleep(50);
  await sleep(KILL_AFTER_MS);
  const asked = server.requests.length;
  const killed = Date.now();
  await run.first.kill();
  const replacement = await run.startReplacement();
  while (server.requests.length === asked) await sleep(50);
  const ms = Date.now() - killed;
  await run.handle.terminate('failover measured');
  await replacement.stop();
  return ms;
}

/** The server's `action` counter for the default namespace, by action type. */
async function actionCounter(metricsUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^action\{(.*)\} (\S+)$/.exec(line);
    if (!match || !match[1]!.includes('namespace="default"')) continue;
    const type = /action_type="([^"]+)"/.exec(match[1]!)?.[1] ?? 'unknown';
    counts[type] = (counts[type] ?? 0) + Number(match[2]);
  }
  return counts;
}

function difference(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([type, n]) => [type, n - (before[type] ?? 0)] as const)
      .filter(([, n]) => n > 0),
  );
}

/** Cloud's rules for what history shows: each activity attempt is one, a child workflow two. */
function billableEvents(events: temporal.api.history.v1.IHistoryEvent[]): Record<string, number> {
  const kinds: Record<string, number> = {};
  const add = (kind: string, n = 1) => (kinds[kind] = (kinds[kind] ?? 0) + n);
  for (const e of events) {
    if (e.workflowExecutionStartedEventAttributes) add('workflow started');
    if (e.activityTaskStartedEventAttributes)
      add('activity attempts', e.activityTaskStartedEventAttributes.attempt ?? 1);
    if (e.timerStartedEventAttributes) add('timers');
    if (e.workflowExecutionSignaledEventAttributes) add('signals');
    if (e.workflowExecutionUpdateAcceptedEventAttributes) add('updates');
    if (e.upsertWorkflowSearchAttributesEventAttributes) add('search-attribute upserts');
    if (e.startChildWorkflowExecutionInitiatedEventAttributes) add('child workflows', 2);
    if (e.workflowExecutionContinuedAsNewEventAttributes) add('continue-as-new');
    if (e.markerRecordedEventAttributes) add(`markers (${e.markerRecordedEventAttributes.markerName})`);
  }
  return kinds;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
