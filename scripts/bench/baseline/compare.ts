/**
 * TAO against the hand-written baseline (workflows.ts), on the same server in
 * the same run, shape by shape: TAO, the baseline and a twin of the baseline
 * each run at least `rounds` times, taking turns at going first, and are
 * compared by median wall-clock; the twin shows how much of a ratio this
 * machine's noise is. For the sequential shape, the baseline's history says
 * where a step's time goes.
 */
import type { Client } from '@temporalio/client';
import { type NativeConnection, Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { ScriptExecutor } from '../../../src/executors/script';
import { MemorySessionStore } from '../../../src/stores/memory-store';
import { createTaoWorker } from '../../../src/worker';
import * as activities from './activities';

export interface Comparison {
  shape: string;
  steps: number;
  taoMs: number;
  baselineMs: number;
  /** TAO's time over the baseline's: its cost per step relative to hand-written Temporal. */
  ratio: number;
  /** Each round's own ratio (its TAO run over its baseline run): how far the machine's noise moves one. */
  roundRatios: number[];
  /**
   * The baseline against a twin of itself (the same workflows on a worker of
   * their own, in the same rounds): 1.00 but for noise, so the noise a ratio can hide.
   */
  twinRatio: number;
}

/** Mean time between consecutive events of a sequential run, by the pair of event types. */
export type StepAnatomy = { from: string; to: string; meanMs: number }[];

const LIMIT_SLOTS = 100;
/** Past its `rounds`, a shape runs more rounds while it has run for less than this, up to MAX_ROUNDS. */
export const SHAPE_TIME_MS = 20_000;
export const MAX_ROUNDS = 25;

interface Shape {
  name: string;
  steps: number;
  tao: [workflowType: string, input: object];
  baseline: [workflowType: string, args: unknown[]];
}

const zeroDelaySpecs = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ taskId: `z${i}`, agent: 'bench', prompt: `z${i}` }));

export const SHAPES: Shape[] = [
  {
    name: 'sequential, 20 steps, limit 1',
    steps: 20,
    tao: ['parallelWorkflow', { specs: zeroDelaySpecs(20), concurrency: 1 }],
    baseline: ['handWrittenFanOut', [20, 1]],
  },
  {
    name: 'pipeline, 50 items × 3 stages, limit 50',
    steps: 150,
    tao: [
      'pipelineWorkflow',
      {
        items: Array.from({ length: 50 }, (_, i) => i),
        stages: [0, 1, 2].map((s) => ({ taskId: `s${s}-{{index}}`, agent: 'bench', prompt: '{{index}}' })),
        concurrency: 50,
      },
    ],
    baseline: ['handWrittenPipeline', [50, 3, 50]],
  },
  {
    name: 'fan-out, 1000 steps, limit 100',
    steps: 1000,
    tao: ['parallelWorkflow', { specs: zeroDelaySpecs(1000), concurrency: 100 }],
    baseline: ['handWrittenFanOut', [1000, 100]],
  },
];

const SIDES = ['tao', 'baseline', 'twin'] as const;
type Side = (typeof SIDES)[number];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function compareWithHandWritten(
  client: Client,
  connection: NativeConnection,
  rounds: number,
): Promise<{ comparisons: Comparison[]; anatomy: StepAnatomy }> {
  const suffix = Math.random().toString(36).slice(2);
  const taoQueue = `bench-tao-${suffix}`;
  const queues = { baseline: `bench-baseline-${suffix}`, twin: `bench-twin-${suffix}` };
  const taoWorker = await createTaoWorker({
    connection,
    executor: new ScriptExecutor({ concurrency: LIMIT_SLOTS }),
    store: new MemorySessionStore(),
    taskQueue: taoQueue,
    concurrency: LIMIT_SLOTS,
  });
  const baselineWorkerOn = (taskQueue: string) =>
    Worker.create({
      connection,
      taskQueue,
      workflowsPath: require.resolve('./workflows'),
      activities,
      // The slots createTaoWorker gives a worker of the same concurrency, so neither side waits for one.
      maxConcurrentActivityTaskExecutions: LIMIT_SLOTS + 2,
    });
  const baselineWorker = await baselineWorkerOn(queues.baseline);
  const twinWorker = await baselineWorkerOn(queues.twin);
  let lastSequential = '';
  const run = async (shape: Shape, side: Side, round: number) => {
    const workflowId = `bench-${side}-${shape.steps}-${round}-${suffix}`;
    const start = performance.now();
    if (side === 'tao') {
      const [type, input] = shape.tao;
      await client.workflow.execute(type, { taskQueue: taoQueue, workflowId, args: [input] });
    } else {
      const [type, args] = shape.baseline;
      await client.workflow.execute(type, { taskQueue: queues[side], workflowId, args });
      if (shape === SHAPES[0] && side === 'baseline') lastSequential = workflowId;
    }
    return performance.now() - start;
  };
  const comparisons = await taoWorker.runUntil(() =>
    baselineWorker.runUntil(() =>
      twinWorker.runUntil(async () => {
        const out: Comparison[] = [];
        for (const shape of SHAPES) {
          for (const side of SIDES) await run(shape, side, -1); // warm every side's caches and the server's
          const times: Record<Side, number[]> = { tao: [], baseline: [], twin: [] };
          const shapeStart = performance.now();
          // A cheap shape's rounds are short enough for this machine's noise to move each a lot;
          // more of them steady its median.
          const more = (round: number) =>
            round < MAX_ROUNDS && performance.now() - shapeStart < SHAPE_TIME_MS;
          for (let round = 0; round < rounds || more(round); round++) {
            // Each side goes first, second and last in turn.
            for (let i = 0; i < SIDES.length; i++) {
              const side = SIDES[(i + round) % SIDES.length]!;
              times[side].push(await run(shape, side, round));
            }
          }
          const [taoMs, baselineMs] = [median(times.tao), median(times.baseline)];
          const roundRatios = times.tao.map((ms, round) => ms / times.baseline[round]!);
          const twinRatio = median(times.twin) / baselineMs;
          out.push({
            shape: shape.name,
            steps: shape.steps,
            taoMs,
            baselineMs,
            ratio: taoMs / baselineMs,
            roundRatios,
            twinRatio,
          });
        }
        return out;
      }),
    ),
  );
  const history = await client.workflow.getHandle(lastSequential).fetchHistory();
  return { comparisons, anatomy: anatomyOf(history.events ?? []) };
}

/** The mean gap between each event and the next, by the pair of their types, over a sequential run. */
function anatomyOf(events: temporal.api.history.v1.IHistoryEvent[]): StepAnatomy {
  const gaps = new Map<string, number[]>();
  const time = (event: temporal.api.history.v1.IHistoryEvent) => {
    const t = event.eventTime!;
    return Number(t.seconds) * 1000 + (t.nanos ?? 0) / 1e6;
  };
  const name = (event: temporal.api.history.v1.IHistoryEvent) =>
    String(temporal.api.enums.v1.EventType[event.eventType!])
      .replace(/^EVENT_TYPE_/, '')
      .toLowerCase();
  for (let i = 1; i < events.length; i++) {
    const key = `${name(events[i - 1]!)} → ${name(events[i]!)}`;
    gaps.set(key, [...(gaps.get(key) ?? []), time(events[i]!) - time(events[i - 1]!)]);
  }
  return [...gaps]
    .filter(([, values]) => values.length >= 5) // the per-step cycle, not start-up and completion
    .map(([key, values]) => {
      const [from, to] = key.split(' → ') as [string, string];
      return { from, to, meanMs: values.reduce((a, b) => a + b, 0) / values.length };
    });
}
