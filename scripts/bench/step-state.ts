/**
 * What the durable step state costs an llm step a turn: the store writes the
 * agent-step activity awaits before the next side effect, one for the
 * model's answer and one for the tool result, on the file store and on
 * PostgreSQL (fsync on, as in production). The states are real conversations
 * (src/executors/llm/resume.ts) that grow every turn: a 2 KB prompt, a short
 * answer with one tool call, a 1.5 KB tool result.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { HeartbeatReporter } from '../../src/activities/heartbeat-reporter';
import type { StepHeartbeat } from '../../src/activities/heartbeat';
import { FileBlobStore } from '../../src/blobs/file';
import { ClaimCheckCodec } from '../../src/codec';
import {
  type Conversation,
  startConversation,
  withToolResult,
  withTurn,
} from '../../src/executors/llm/resume';
import { FileSessionStore } from '../../src/stores/file-store';
import { PostgresSessionStore } from '../../src/stores/postgres-store';
import type { SessionStore } from '../../src/stores/session-store';
import { startPostgres } from '../../test/support/postgres';

const PROMPT_BYTES = 2_048;
const RESULT_BYTES = 1_536;

export interface Latency {
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface StepStateCost {
  steps: number;
  turnsPerStep: number;
  /** The state's size as saved: after the first turn, after the last. */
  stateBytes: [first: number, last: number];
  file: Latency;
  postgres: Latency;
  /** The machine's 1-minute load average before and after: on a shared machine, what the tail owes to others. */
  load: [before: number, after: number];
}

/** Random text (as base64), so no store can make it cheaper than it would be. */
const text = (bytes: number) => randomBytes((bytes * 3) / 4).toString('base64');

/** The conversation after each turn: its answer (a tool call), then the tool's result. */
function conversationTurns(
  turns: number,
  resultBytes = RESULT_BYTES,
): [answered: Conversation, recorded: Conversation][] {
  let conversation = startConversation('bench', text(PROMPT_BYTES));
  const states: [Conversation, Conversation][] = [];
  for (let n = 1; n <= turns; n++) {
    const call = { id: `call_${n}`, name: 'run_shell', input: { command: `grep -rn 'TODO' src/part${n}` } };
    const answered = withTurn(conversation, {
      text: `Looking at part ${n} next.`,
      toolCalls: [call],
      finish: 'tool_calls',
      inputTokens: 1_000 * n,
      outputTokens: 40,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
    });
    conversation = withToolResult(answered, { callId: call.id, content: text(resultBytes), isError: false });
    states.push([answered, conversation]);
  }
  return states;
}

/** Each turn's two saves, timed together, for `steps` steps one after another; each step's record removed at its end. */
async function perTurn(
  store: SessionStore,
  steps: number,
  turns: [Conversation, Conversation][],
): Promise<Latency> {
  const samples: number[] = [];
  for (let step = 0; step < steps; step++) {
    const key = `bench-step-state/run-${step}/1`;
    let seq = 0;
    const save = (state: Conversation) =>
      store.saveStepState(key, { attempt: 1, attemptScheduledMs: 1, seq: ++seq, savedMs: Date.now(), state });
    for (const [answered, recorded] of turns) {
      const start = performance.now();
      await save(answered);
      await save(recorded);
      samples.push(performance.now() - start);
    }
    await store.deleteStepState(key);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  return {
    meanMs: samples.reduce((sum, ms) => sum + ms, 0) / samples.length,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: samples.at(-1)!,
  };
}

export async function stepStateCost(
  tmp: string,
  steps: number,
  turnsPerStep: number,
): Promise<StepStateCost> {
  const turns = conversationTurns(turnsPerStep);
  const bytes = (state: Conversation) => Buffer.byteLength(JSON.stringify(state));
  const dir = mkdtempSync(join(tmp, 'step-state-'));
  const pg = await startPostgres({ durable: true });
  const before = loadavg()[0]!;
  try {
    const file = await perTurn(new FileSessionStore(dir), steps, turns);
    const store = await PostgresSessionStore.connect(pg.url);
    const postgres = await perTurn(store, steps, turns).finally(() => store.close());
    return {
      steps,
      turnsPerStep,
      stateBytes: [bytes(turns[0]![1]), bytes(turns.at(-1)![1])],
      file,
      postgres,
      load: [before, loadavg()[0]!],
    };
  } finally {
    pg.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface HeartbeatBlobs {
  turns: number;
  resultBytes: number;
  /** The conversation's size as saved after the last turn. */
  lastStateBytes: number;
  /** Claim-check blobs the step's beats wrote, and their bytes: a beat carrying every state, as before issue #33. */
  before: { blobs: number; bytes: number };
  /** The same with the checkpoint store keeping the states: large ones stay out of the beats. */
  after: { blobs: number; bytes: number };
}

/**
 * What a long conversation's heartbeats cost the blob store: the real
 * heartbeat reporter beats once per saved state (the worker's 1 s throttle
 * would drop some with fast turns: an upper bound), each beat goes through
 * the payload converter and the claim-check codec (128 KiB) over a file blob
 * store, and the blobs are counted; without and with a store keeping states.
 */
export async function heartbeatBlobs(
  tmp: string,
  turns: number,
  resultBytes: number,
): Promise<HeartbeatBlobs> {
  const states = conversationTurns(turns, resultBytes).flat();
  const written = async (storeKeepsStates: boolean) => {
    const dir = mkdtempSync(join(tmp, 'heartbeat-blobs-'));
    const codec = new ClaimCheckCodec(new FileBlobStore(dir));
    const sent: StepHeartbeat[] = [];
    const reporter = new HeartbeatReporter(
      (beat) => sent.push(beat),
      'bench',
      { livenessMs: 60_000, economy: false },
      storeKeepsStates,
    );
    try {
      for (const [seq, state] of states.entries()) {
        reporter.saved(state, seq + 1);
        await codec.encode([defaultPayloadConverter.toPayload(sent.at(-1))]);
      }
      const files = readdirSync(dir).filter((name) => name.startsWith('sha256-'));
      return {
        blobs: files.length,
        bytes: files.reduce((sum, name) => sum + statSync(join(dir, name)).size, 0),
      };
    } finally {
      reporter.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  };
  return {
    turns,
    resultBytes,
    lastStateBytes: Buffer.byteLength(JSON.stringify(states.at(-1))),
    before: await written(false),
    after: await written(true),
  };
}
