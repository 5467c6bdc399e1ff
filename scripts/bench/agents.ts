/**
 * Many agents in flight on one worker: a standalone `tao worker` with the llm
 * executor runs N concurrent steps against a local fake OpenAI server that
 * streams each answer over a few seconds. Its resident memory is read from
 * /proc and its event-loop delay from its own metrics endpoint.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { StepOutcome } from '../../src/contracts';
import { freePort } from '../../src/local/dev-server';
import { openAiBaseUrl, openAiText, startFakeOpenAI } from '../../test/support/fake-openai';
import { type BenchServer, startStandaloneWorker } from './standalone-worker';

export interface ManyAgents {
  steps: number;
  streamMs: number;
  wallMs: number;
  stepsPerSecond: number;
  idleMiB: number;
  peakMiB: number;
  /** The largest of the worker's 5-second event-loop p99s (and maxima) during the run. */
  lagP99Ms: number;
  lagMaxMs: number;
  /** From the run's start to the last step's model request: how long it took to get every step going. */
  rampMs: number;
  /** The most model streams open at once (each lasts `streamMs`). */
  peakStreams: number;
}

/** An answer is eight stream frames (role, four pieces of text, finish, usage, done). */
const FRAMES = 8;

export async function manyAgents(
  client: Client,
  bench: BenchServer,
  dir: string,
  steps: number,
  streamMs: number,
): Promise<ManyAgents> {
  const requestedAt: number[] = [];
  const server = await startFakeOpenAI(() => {
    requestedAt.push(performance.now());
    return { ...openAiText('done'), chunkDelayMs: streamMs / FRAMES };
  });
  const config = join(dir, 'agents-llm.json');
  writeFileSync(
    config,
    JSON.stringify({
      provider: 'fake',
      model: 'fake-model',
      workspace: dir,
      concurrency: steps,
      providers: { fake: { type: 'openai', baseUrl: openAiBaseUrl(server), apiKeyEnv: 'FAKE_KEY' } },
    }),
  );
  const metricsPort = await freePort();
  const taskQueue = `bench-agents-${Date.now()}`;
  const worker = await startStandaloneWorker(
    bench,
    taskQueue,
    ['--executor', `llm:${config}`, '--concurrency', String(steps), '--metrics', `127.0.0.1:${metricsPort}`],
    { FAKE_KEY: 'fake-key' },
  );
  try {
    // Past the first 5-second window, which holds the worker's start-up (bundling its workflows).
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const idleMiB = worker.rssMiB();
    const lag = { p99: 0, max: 0 };
    const scrape = setInterval(() => {
      void fetch(`http://127.0.0.1:${metricsPort}/metrics`)
        .then((response) => response.text())
        .then((text) => {
          lag.p99 = Math.max(lag.p99, gauge(text, 'tao_event_loop_delay_p99'));
          lag.max = Math.max(lag.max, gauge(text, 'tao_event_loop_delay_max'));
        })
        .catch(() => undefined);
    }, 1_000);
    const specs = Array.from({ length: steps }, (_, i) => ({
      taskId: `agent-${i}`,
      agent: 'general',
      prompt: 'go',
    }));
    const start = performance.now();
    const { value: outcomes, peakMiB } = await worker
      .peakDuring(
        () =>
          client.workflow.execute('parallelWorkflow', {
            taskQueue,
            workflowId: taskQueue,
            args: [{ specs, concurrency: steps }],
          }) as Promise<StepOutcome[]>,
      )
      .finally(() => clearInterval(scrape));
    const wallMs = performance.now() - start;
    // The gauges cover 5-second windows; the last one closes after the run.
    await new Promise((resolve) => setTimeout(resolve, 5_500));
    const last = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    lag.p99 = Math.max(lag.p99, gauge(last, 'tao_event_loop_delay_p99'));
    lag.max = Math.max(lag.max, gauge(last, 'tao_event_loop_delay_max'));
    const failed = outcomes.filter((outcome) => !outcome.success).length;
    if (failed > 0)
      throw new Error(`${failed} of ${steps} agent steps failed: ${outcomes.find((o) => !o.success)?.error}`);
    return {
      steps,
      streamMs,
      wallMs,
      stepsPerSecond: steps / (wallMs / 1000),
      idleMiB,
      peakMiB,
      lagP99Ms: lag.p99,
      lagMaxMs: lag.max,
      rampMs: Math.max(...requestedAt) - start,
      peakStreams: mostWithin(requestedAt, streamMs),
    };
  } finally {
    await worker.stop();
    await server.close();
  }
}

/** The most of `times` that fall within any `windowMs`. */
function mostWithin(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let first = 0, last = 0; last < sorted.length; last++) {
    while (sorted[last]! - sorted[first]! >= windowMs) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

function gauge(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}
