/**
 * `npm run bench [-- --items 200 --limit 50 …]`: TAO against the same work
 * run as a barrier per stage and as the ideal in-process schedule, on a local
 * dev server started here; prints a table, writes BENCHMARKS.md and a chart.
 * Each figure comes from one run that measures the compared systems side by side.
 */
import '../../test/support/quiet-runtime';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection } from '@temporalio/worker';
import { Command } from 'commander';
import { taoDataConverter } from '../../src/codec';
import type { StepOutcome } from '../../src/contracts';
import type { AgentExecutor } from '../../src/executors/executor';
import { ScriptExecutor, type ScriptFile } from '../../src/executors/script';
import { freePort, startDevServer } from '../../src/local/dev-server';
import { ensureTemporalBinaries } from '../../src/local/temporal-binaries';
import { FileSessionStore } from '../../src/stores/file-store';
import type { SessionStore } from '../../src/stores/session-store';
import { createTaoWorker } from '../../src/worker';
import type { Progress } from '../../src/workflows/lib';
import { manyAgents } from './agents';
import { promptCacheBills } from './prompt-cache';
import { scaling } from './scaling';
import { MAX_ROUNDS, SHAPE_TIME_MS, compareWithHandWritten } from './baseline/compare';
import { chaos, chaosSeeds } from './chaos';
import { failover } from './failover';
import { EVENT_EVERY_MS, KILL_AFTER_MS, KILL_IN_TURN, TURNS, stepActions } from './actions';
import { journalCost, journalScript } from './journal';
import { startStandaloneWorker, writeWorkflowBundle } from './standalone-worker';
import { payloadFloor, payloadRun } from './payloads';
import { handBatchRun, taoBatchRun } from './batch';
import { batchCrashRun } from './batch-crash';
import { resumeAfterKill } from './resume';
import { heartbeatBlobs, stepStateCost } from './step-state';
import { runIdeal } from './ideal';
import { TalkingExecutor } from '../../test/support/talking-executor';
import { tlsFailureTimes } from './tls';
import { inboxBesideForeign } from './inbox';
import { delegatingScript, delegationRun, TASKS_PER_LEAD } from './delegation';
import { liveOutputLatency, uiOnBigRun } from './ui';
import { stepPage } from './step-page';
import { timelineOpens, timelineRun, timelineScript } from './timeline';
import { type Figure, barChart, markdown, printTable } from './report';
import { type PipelineWork, pipelineWork, scriptTasks, stepId } from './workload';

/** The report's sections, in the order they run; `--only` names some of them. */
const SECTIONS = [
  'pipeline',
  'overhead',
  'throughput',
  'failover',
  'actions',
  'resume',
  'stepstate',
  'big',
  'payloads',
  'batch',
  'batch-crash',
  'journal',
  'baseline',
  'agents',
  'scaling',
  'prompt-cache',
  'tls',
  'ui',
  'step-page',
  'timeline',
  'inbox',
  'delegation',
  'chaos',
] as const;
type Section = (typeof SECTIONS)[number];
/**
 * Sections only `--only` runs: each adds minutes the full run can do without
 * (batch-crash: another 100,000-step batch, about as long as the batch
 * section's own 100,000-step run); their rows go to BENCHMARKS.md's table of
 * sections run on their own.
 */
const ONLY_ON_REQUEST: readonly Section[] = ['batch-crash'];

const program = new Command();
const options = program
  .option('--items <n>', 'pipeline items', '200')
  .option('--stages <n>', 'pipeline stages', '3')
  .option('--min-delay <ms>', 'shortest step', '50')
  .option('--max-delay <ms>', 'longest step', '500')
  .option('--limit <n>', 'chains in flight for the pipeline comparison', '50')
  .option('--overhead-limits <list>', 'limits for the overhead figure', '1,10,100')
  .option('--throughput-steps <n>', 'zero-delay steps for throughput', '2000')
  .option('--resumable-steps <n>', 'steps of each big run (resumable, parallel, pipeline)', '10000')
  .option('--prompt-bytes <n>', 'bytes of each prompt (and echoed output) in the payloads section', '2048')
  .option(
    '--batch-steps <list>',
    'steps of each batch run (tao start --items), and of the hand-written batch beside it; 1000000 is allowed',
    '10000,100000',
  )
  .option(
    '--batch-crash-steps <n>',
    'steps of the batch run whose worker is SIGKILLed three times (section batch-crash, run by --only alone)',
    '100000',
  )
  .option('--failover-steps <n>', 'steps in flight on the worker that is killed', '12')
  .option('--state-steps <n>', 'llm steps whose durable state is timed, each a turn at a time', '20')
  .option('--state-turns <n>', 'turns of each of those steps', '30')
  .option('--seed <n>', 'delay seed', '7')
  .option(
    '--baseline-rounds <n>',
    'rounds of each shape against hand-written Temporal, at least (a cheap shape runs more)',
    '5',
  )
  .option('--agents <n>', 'llm steps in flight on one worker', '2000')
  .option('--scale-steps <n>', 'zero-delay steps for the scaling figure', '4000')
  .option('--cache-turns <n>', 'turns of the tool loop billed with and without prompt caching', '10')
  .option('--cache-file-chars <n>', 'characters of the file the loop reads each turn', '4000')
  .option('--ui-steps <n>', 'steps of the run whose page `tao ui` opens', '10000')
  .option(
    '--inbox-foreign <n>',
    'running workflows of another team beside the run whose waiting steps `tao pending` lists',
    '300',
  )
  .option(
    '--delegation-leads <list>',
    'leads (each delegating 16 tasks) of each delegation run',
    '100,400,1000',
  )
  .option('--delegation-limit <n>', 'concurrency of the delegation runs', '100')
  .option(
    '--delegation-slow <leads:ms>',
    "one more delegation run whose tasks each take this long (a model's pace)",
    '400:300',
  )
  .option('--chaos-seeds <n>', 'seeded kill schedules the chaos section runs, one run each', '20')
  .option('--out <file>', 'report file', 'BENCHMARKS.md')
  .option('--results <file>', 'every figure as JSON, to compare across commits', 'benchmarks/results.json')
  .option('--only <sections>', 'run only these sections (comma-separated); BENCHMARKS.md is then left alone')
  .parse()
  .opts<{
    items: string;
    stages: string;
    minDelay: string;
    maxDelay: string;
    limit: string;
    overheadLimits: string;
    throughputSteps: string;
    resumableSteps: string;
    promptBytes: string;
    batchSteps: string;
    batchCrashSteps: string;
    failoverSteps: string;
    stateSteps: string;
    stateTurns: string;
    seed: string;
    baselineRounds: string;
    agents: string;
    scaleSteps: string;
    cacheTurns: string;
    cacheFileChars: string;
    uiSteps: string;
    inboxForeign: string;
    delegationLeads: string;
    delegationLimit: string;
    delegationSlow: string;
    chaosSeeds: string;
    out: string;
    results: string;
    only?: string;
  }>();
const num = (key: keyof typeof options) => Number(options[key]);
// Checked before the dev server starts, so a misspelt section costs nothing and leaves nothing running.
const only = options.only?.split(',');
const unknownSections = only?.filter((name) => !(SECTIONS as readonly string[]).includes(name));
if (unknownSections?.length)
  program.error(`error: --only: no section ${unknownSections.join(', ')}; sections: ${SECTIONS.join(', ')}`);

interface Env {
  client: Client;
  native: NativeConnection;
  storeDir: string;
  address: string;
  /** The dev server's Prometheus metrics. */
  metricsUrl: string;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** Runs `body` with a worker whose executor follows `script` and whose slots fit `limit`. */
async function withWorker<T>(
  env: Env,
  script: ScriptFile | AgentExecutor,
  limit: number,
  body: (taskQueue: string) => Promise<T>,
  store: SessionStore = new FileSessionStore(env.storeDir),
) {
  const taskQueue = `bench-${Math.random().toString(36).slice(2)}`;
  const worker = await createTaoWorker({
    connection: env.native,
    executor: 'executeStep' in script ? script : new ScriptExecutor({ ...script, concurrency: limit }),
    store,
    taskQueue,
    concurrency: limit,
    dataConverter: taoDataConverter({ blobs: join(env.storeDir, 'blobs') }),
  });
  return worker.runUntil(() => body(taskQueue));
}

/** The live-output figure's lines: a period out of step with the page's and heartbeats' 1 s, so delays sample every phase. */
const LIVE_LINES = 20;
const LIVE_LINE_EVERY_MS = 1_300;

/** The step page's figure: rounds of streamed text, each frame this far apart (4 content chunks a round). */
const STEP_PAGE_ROUNDS = 10;
const STEP_PAGE_CHUNK_EVERY_MS = 150;

/** The timeline figure's run: as many steps as one history holds. */
const TIMELINE_STEPS = 2000;

/** The old-space cap for the worker that shows what a big run really holds. */
const HEAP_CAP_MIB = 192;

const benchServer = (env: Env) => ({ address: env.address, blobs: join(env.storeDir, 'blobs') });

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await run();
  return { ms: performance.now() - start, value };
}

const templates = (stages: number) =>
  Array.from({ length: stages }, (_, stage) => ({
    taskId: `s${stage}-{{index}}`,
    agent: 'bench',
    prompt: '{{index}}',
  }));
const items = (n: number) => Array.from({ length: n }, (_, i) => i);

async function tao(env: Env, work: PipelineWork, limit: number): Promise<number> {
  return withWorker(env, { tasks: scriptTasks(work) }, limit, async (taskQueue) => {
    const { ms, value } = await timed(() =>
      env.client.workflow.execute('pipelineWorkflow', {
        taskQueue,
        workflowId: `bench-pipeline-${limit}-${Date.now()}`,
        args: [{ items: items(work.items), stages: templates(work.stages), concurrency: limit }],
      }),
    );
    if ((value as (StepOutcome | null)[]).some((o) => !o?.success))
      throw new Error('a pipeline chain failed');
    return ms;
  });
}

async function barrier(env: Env, work: PipelineWork, limit: number): Promise<number> {
  return withWorker(env, { tasks: scriptTasks(work) }, limit, async (taskQueue) => {
    const { ms } = await timed(async () => {
      for (let stage = 0; stage < work.stages; stage++) {
        await env.client.workflow.execute('parallelWorkflow', {
          taskQueue,
          workflowId: `bench-barrier-${stage}-${Date.now()}`,
          args: [
            {
              specs: items(work.items).map((i) => ({
                taskId: stepId(stage, i),
                agent: 'bench',
                prompt: String(i),
              })),
              concurrency: limit,
            },
          ],
        });
      }
    });
    return ms;
  });
}

async function throughput(env: Env, steps: number): Promise<number> {
  return withWorker(env, {}, 100, async (taskQueue) => {
    const specs = items(steps).map((i) => ({ taskId: `z${i}`, agent: 'bench', prompt: '' }));
    const { ms } = await timed(() =>
      env.client.workflow.execute('parallelWorkflow', {
        taskQueue,
        workflowId: `bench-throughput-${Date.now()}`,
        args: [{ specs, concurrency: 100 }],
      }),
    );
    return steps / (ms / 1000);
  });
}

type BigKind = 'parallelWorkflow' | 'pipelineWorkflow' | 'resumableParallelWorkflow';

/** The same number of steps for each kind: a pipeline gets half as many items, two stages each. */
function bigInput(kind: BigKind, steps: number): object {
  if (kind === 'pipelineWorkflow') return { items: items(steps / 2), stages: templates(2) };
  return { specs: items(steps).map((i) => ({ taskId: `r${i}`, agent: 'bench', prompt: '' })) };
}

/** Every execution a run made: its own runs (continue-as-new) and, recursively, its partitions' children. */
async function executionsOf(env: Env, workflowId: string): Promise<{ workflowId: string; runId: string }[]> {
  const runs: { workflowId: string; runId: string }[] = [];
  for await (const execution of env.client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) {
    runs.push({ workflowId, runId: execution.runId });
  }
  const progress = await env.client.workflow.getHandle(workflowId).query<Progress>('progress');
  for (const partition of progress.partitions ?? [])
    runs.push(...(await executionsOf(env, partition.workflowId)));
  return runs;
}

/**
 * A big run on a standalone `tao worker` (memory store, limit 100): time, the
 * worker's memory, history sizes. `nodeOptions` reach the worker's Node.
 */
async function bigRun(env: Env, kind: BigKind, steps: number, nodeOptions = '') {
  const taskQueue = `bench-big-${Math.random().toString(36).slice(2)}`;
  const worker = await startStandaloneWorker(
    benchServer(env),
    taskQueue,
    ['--executor', 'script', '--concurrency', '100'],
    { NODE_OPTIONS: nodeOptions },
  );
  try {
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // settled after start-up
    const idleMiB = worker.rssMiB();
    const workflowId = `bench-${kind}-${Date.now()}`;
    const { value: ms, peakMiB } = await worker.peakDuring(async () => {
      const { ms } = await timed(() =>
        env.client.workflow.execute(kind, {
          taskQueue,
          workflowId,
          args: [{ ...bigInput(kind, steps), concurrency: 100 }],
        }),
      );
      return ms;
    });
    const executions = await executionsOf(env, workflowId);
    let largest = { events: 0, bytes: 0 };
    for (const { workflowId: id, runId } of executions) {
      const history = await env.client.workflow.getHandle(id, runId).fetchHistory();
      const bytes = temporal.api.history.v1.History.encode(history).finish().byteLength;
      if (bytes > largest.bytes) largest = { events: history.events?.length ?? 0, bytes };
    }
    return { ms, idleMiB, peakMiB, executions: executions.length, largest };
  } finally {
    await worker.stop();
  }
}

function commitOf(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function machine(cli: string): string {
  const cpu = cpus();
  const version = execFileSync(cli, ['--version'], { encoding: 'utf8' }).trim();
  return `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, ${version}`;
}

async function main(): Promise<void> {
  const { cli } = ensureTemporalBinaries();
  const metricsPort = await freePort();
  const server = await startDevServer({ cli, metricsPort });
  const storeDir = mkdtempSync(join(tmpdir(), 'tao-bench-'));
  const native = await NativeConnection.connect({ address: server.address });
  const connection = await Connection.connect({ address: server.address });
  // Worker processes (the failover figure) load one prebuilt bundle, as the tests' do.
  const bundlePath = join(storeDir, 'workflow-bundle.js');
  await writeWorkflowBundle(require.resolve('../../src/workflows'), bundlePath);
  process.env.TAO_TEST_BUNDLE = bundlePath;
  process.env.TAO_TEST_TEMPORAL_ADDRESS = server.address;
  const env: Env = {
    client: new Client({ connection, dataConverter: taoDataConverter({ blobs: join(storeDir, 'blobs') }) }),
    native,
    storeDir,
    address: server.address,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
  };
  const figures: Figure[] = [];
  const results: Record<string, unknown> = {};
  const chart: Parameters<typeof barChart>[0] = [];
  const sections: Record<Section, () => Promise<void>> = {
    async pipeline() {
      const limit = num('limit');
      const work = pipelineWork(num('items'), num('stages'), num('minDelay'), num('maxDelay'), num('seed'));
      const shape = `${work.items} items × ${work.stages} stages, delays ${options.minDelay}–${options.maxDelay} ms (seed ${options.seed}), limit ${limit}`;
      console.error(`pipeline comparison: ${shape}`);
      const [taoMs, barrierMs, idealMs] = [
        await tao(env, work, limit),
        await barrier(env, work, limit),
        await runIdeal(work, limit),
      ];
      results.pipeline = { taoMs, barrierMs, idealMs };
      figures.push(
        { name: 'pipeline wall-clock, TAO', value: seconds(taoMs), note: shape },
        {
          name: 'same work, barrier per stage',
          value: seconds(barrierMs),
          note: 'one parallelWorkflow per stage, in turn',
        },
        {
          name: 'same work, ideal schedule',
          value: seconds(idealMs),
          note: 'in-process bounded pool, real timers, no Temporal',
        },
        { name: 'TAO / ideal', value: (taoMs / idealMs).toFixed(2), note: '1.00 = no orchestration cost' },
        {
          name: 'TAO / barrier',
          value: (taoMs / barrierMs).toFixed(2),
          note: '< 1: no barrier between stages pays off',
        },
      );
      chart.push({
        title: `Pipeline wall-clock (${shape})`,
        unit: 's',
        bars: [
          { label: 'TAO pipeline', value: taoMs / 1000 },
          { label: 'barrier per stage', value: barrierMs / 1000 },
          { label: 'ideal schedule', value: idealMs / 1000 },
        ],
      });
    },
    async overhead() {
      const overhead: { limit: number; perStepMs: number }[] = [];
      for (const l of options.overheadLimits.split(',').map(Number)) {
        const small = pipelineWork(l * 10, 1, 20, 50, num('seed') + l);
        console.error(`overhead at limit ${l}: ${small.items} steps`);
        const t = await tao(env, small, l);
        const ideal = await runIdeal(small, l);
        overhead.push({ limit: l, perStepMs: (t - ideal) / small.items });
      }
      results.overheadPerStepMs = Object.fromEntries(overhead.map((o) => [o.limit, o.perStepMs]));
      figures.push(
        ...overhead.map((o) => ({
          name: `overhead per step, limit ${o.limit}`,
          value: `${o.perStepMs.toFixed(1)} ms`,
          note: `(TAO − ideal) / steps, ${o.limit * 10} steps of 20–50 ms`,
        })),
      );
      chart.push({
        title: 'Orchestration overhead per step',
        unit: 'ms',
        bars: overhead.map((o) => ({ label: `limit ${o.limit}`, value: o.perStepMs })),
      });
    },
    async throughput() {
      console.error(`throughput: ${options.throughputSteps} zero-delay steps`);
      const stepsPerSecond = await throughput(env, num('throughputSteps'));
      results.throughputStepsPerSecond = stepsPerSecond;
      figures.push({
        name: 'throughput, zero-delay steps',
        value: `${stepsPerSecond.toFixed(0)} steps/s`,
        note: `${options.throughputSteps} steps, limit 100`,
      });
    },
    async failover() {
      console.error(`failover: ${options.failoverSteps} steps in flight on a SIGKILLed worker process`);
      const recovered = await failover(env.client, num('failoverSteps'));
      results.failover = recovered;
      figures.push(
        {
          name: 'failover after SIGKILL, p50',
          value: seconds(recovered.p50Ms),
          note: `${recovered.steps} steps in flight on a worker process killed with SIGKILL, a replacement started at once; from the kill to each step's start there, default step policy (heartbeat timeout 7 s). Goal: max ≤ 10 s`,
        },
        {
          name: 'failover after SIGKILL, max',
          value: seconds(recovered.maxMs),
          note: 'the same run; goal ≤ 10 s',
        },
      );
    },
    async actions() {
      const settings = [
        { name: 'default', heartbeatTimeoutMs: 7_000, goal: 'failover ≤ 10 s' },
        {
          name: 'economy',
          heartbeatTimeoutMs: 80_000,
          goal: 'failover ≤ 90 s, ≤ 100 heartbeats an agent-hour',
        },
      ];
      const shape = `one llm step, ${TURNS - 1} tool calls in ${TURNS} turns against the fake OpenAI server, each turn ${(12 * EVENT_EVERY_MS) / 1000} s (12 stream events ${EVENT_EVERY_MS} ms apart, 4 of them text), on a worker process`;
      results.actions = {};
      for (const setting of settings) {
        console.error(`actions: ${shape}, ${setting.name} step policy`);
        const run = await stepActions(env.client, env.metricsUrl, {
          heartbeatTimeoutMs: setting.heartbeatTimeoutMs,
        });
        (results.actions as Record<string, unknown>)[setting.name] = run;
        const kinds = (counts: Record<string, number>) =>
          Object.entries(counts)
            .map(([kind, n]) => `${kind} ${n}`)
            .join(', ');
        figures.push(
          {
            name: `Actions of a ${TURNS - 1}-tool-call llm step, ${setting.name}`,
            value: `${run.total} (${run.heartbeats} heartbeats)`,
            note: `heartbeat timeout ${setting.heartbeatTimeoutMs / 1000} s; the server's \`action\` counter over the run: ${kinds(run.counted)}; in history by Cloud's rules: ${kinds(run.inHistory)}; ${shape}, ${seconds(run.stepMs)}`,
          },
          {
            name: `  per agent-hour, ${setting.name}`,
            value: `${run.perAgentHour.actions} (${run.perAgentHour.heartbeats} heartbeats)`,
            note: 'the same run, scaled to an hour of such steps back to back',
          },
          {
            name: `  failover after SIGKILL mid-turn, ${setting.name}`,
            value: seconds(run.failoverMs),
            note: `the same step, its worker process killed ${KILL_AFTER_MS / 1000} s into turn ${KILL_IN_TURN}, a replacement started at once; from the kill to the step's next model request. Goal: ${setting.goal}`,
          },
        );
      }
    },
    async resume() {
      console.error('resume: a 10-turn llm agent whose worker is SIGKILLed during turn 7');
      const resumed = await resumeAfterKill(env.client);
      results.llmResume = resumed;
      figures.push({
        name: 'llm step resumed after SIGKILL at turn 7',
        value: `${resumed.beforeKill} + ${resumed.afterKill} = ${resumed.beforeKill + resumed.afterKill} model requests`,
        note: `10-turn tool-using agent, fake OpenAI server, worker process killed while turn 7 was in flight; requests before the kill + by the replacement attempt (goal: replacement ≤ 4, total ≤ 11, not 17); ${resumed.toolRuns} tool runs for 9 tool calls; usage counted once: ${resumed.usageOnce ? 'yes' : 'NO'}`,
      });
    },
    async stepstate() {
      console.error(
        `stepstate: ${options.stateSteps} llm steps × ${options.stateTurns} turns, durable state per turn, file store and PostgreSQL`,
      );
      const cost = await stepStateCost(storeDir, num('stateSteps'), num('stateTurns'));
      results.stepState = cost;
      const latency = (l: typeof cost.file) =>
        `p50 ${l.p50Ms.toFixed(2)} ms, mean ${l.meanMs.toFixed(2)}, p99 ${l.p99Ms.toFixed(2)}`;
      const shape = `${cost.steps} steps × ${cost.turnsPerStep} turns in turn, the conversation ${(cost.stateBytes[0] / 1024).toFixed(1)} → ${(cost.stateBytes[1] / 1024).toFixed(1)} KB; load average ${cost.load.map((l) => l.toFixed(1)).join(' → ')} on ${cpus().length} cores`;
      figures.push(
        {
          name: 'llm step: durable state per turn, file store',
          value: latency(cost.file),
          note: `the two writes (answer, tool result) the step awaits before its next side effect: temp file, fsync, rename, folder fsync each; ${shape}; goal ≤ 5 ms`,
        },
        {
          name: '  the same, PostgreSQL',
          value: latency(cost.postgres),
          note: `one upsert each, committed (fsync on), server on this machine; ${shape}; goal ≤ 5 ms`,
        },
      );
      const beats = await heartbeatBlobs(storeDir, 40, 30_000);
      results.heartbeatBlobs = beats;
      const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
      figures.push({
        name: 'llm step: heartbeat blobs for a long conversation',
        value: `${beats.before.blobs} blobs / ${mib(beats.before.bytes)} before #33, ${beats.after.blobs} / ${mib(beats.after.bytes)} after`,
        note: `${beats.turns} turns of a ${(beats.resultBytes / 1000).toFixed(0)} KB tool result, the conversation ${mib(beats.lastStateBytes)} at the end; one beat per saved state (an upper bound: the 1 s throttle drops some) through the claim-check codec (128 KiB) to a file blob store; after: the checkpoint store keeps the states over 64 KiB and the beats leave them out`,
      });
    },
    async big() {
      const big: Record<string, Awaited<ReturnType<typeof bigRun>>> = {};
      for (const kind of ['resumableParallelWorkflow', 'parallelWorkflow', 'pipelineWorkflow'] as const) {
        console.error(`${kind}: ${options.resumableSteps} steps on a standalone worker`);
        const run = (big[kind] = await bigRun(env, kind, num('resumableSteps')));
        figures.push(
          {
            name: `${kind}, ${options.resumableSteps} steps`,
            value: seconds(run.ms),
            note: `limit 100; ${run.executions} executions (continue-as-new windows or child partitions of 1,000 steps)`,
          },
          {
            name: `  worker memory, idle → peak`,
            value: `${run.idleMiB.toFixed(0)} → ${run.peakMiB.toFixed(0)} MiB`,
            note: `RSS of a standalone \`tao worker --executor script --store memory --concurrency 100\` process, 3 s after start and at most during the run (sampled every 100 ms)${kind === 'resumableParallelWorkflow' ? '; goal: peak ≤ 400 MiB' : ''}`,
          },
          {
            name: `  largest single history`,
            value: `${run.largest.events} events, ${(run.largest.bytes / 2 ** 20).toFixed(2)} MiB`,
            note: 'Temporal limits: 51,200 events, 50 MiB',
          },
        );
      }
      // V8 sizes its heap by the machine's memory and collects lazily below that; a cap makes it collect sooner.
      const capped = await bigRun(
        env,
        'resumableParallelWorkflow',
        num('resumableSteps'),
        `--max-old-space-size=${HEAP_CAP_MIB}`,
      );
      big.resumableHeapCapped = capped;
      figures.push({
        name: `  the resumable run, worker heap capped at ${HEAP_CAP_MIB} MiB`,
        value: `${capped.idleMiB.toFixed(0)} → ${capped.peakMiB.toFixed(0)} MiB, ${seconds(capped.ms)}`,
        note: `the same run with NODE_OPTIONS=--max-old-space-size=${HEAP_CAP_MIB} on the worker: the peak above is mostly garbage V8 had no reason to collect yet; goal: peak ≤ 400 MiB`,
      });
      results.bigRuns = big;
    },
    async payloads() {
      const steps = num('resumableSteps');
      const kb = `${(num('promptBytes') / 1024).toFixed(0)} KB`;
      const runs = [];
      for (const kind of ['parallelWorkflow', 'resumableParallelWorkflow'] as const) {
        console.error(`${kind}: ${steps} steps with ${kb} prompts and outputs on a fresh standalone worker`);
        const run = await payloadRun(env.client, benchServer(env), storeDir, kind, steps, num('promptBytes'));
        runs.push(run);
        figures.push({
          name: `${kind}, ${steps} steps, ${kb} prompts and outputs`,
          value: `${seconds(run.ms)}; ${run.idleMiB.toFixed(0)} → ${run.peakMiB.toFixed(0)} MiB`,
          note: `wall-clock; RSS of a fresh standalone \`tao worker --executor script --store file:… --concurrency 100\` (no heap flag), 3 s after start and at most during the run (sampled every 100 ms); ${(run.outcomeBytes / 2 ** 20).toFixed(1)} MiB of outputs; goal: peak ≤ 400 MiB`,
        });
      }
      const [parallel, resumable] = runs as [(typeof runs)[0], (typeof runs)[0]];
      console.error(`floor: the same ${steps} specs in and outputs out of one workflow on a bare SDK worker`);
      const floor = await payloadFloor(env.client, benchServer(env), storeDir, steps, num('promptBytes'));
      figures.push(
        {
          name: '  the floor: the same input and result through a workflow that runs no step',
          value: `${floor.idleMiB.toFixed(0)} → ${floor.peakMiB.toFixed(0)} MiB`,
          note: "RSS of a fresh bare SDK worker (TAO's codec, no TAO activities, stores or telemetry; scripts/bench/payload-floor) whose one workflow takes the specs and returns an outcome echoing each: what the SDK's payload path costs for this input and result, which both peaks above include",
        },
        {
          name: '  the resumable run: device writes per outcome byte',
          value: `${(resumable.storeWriteBytes / resumable.outcomeBytes).toFixed(2)}×`,
          note: `the worker's write_bytes (/proc/<pid>/io: pages it dirtied, each fsynced append's page again) less the ${(resumable.blobBytes / 2 ** 20).toFixed(1)} MiB of claim-check blobs it wrote: ${(resumable.storeWriteBytes / 2 ** 20).toFixed(1)} MiB, over ${(resumable.outcomeBytes / 2 ** 20).toFixed(1)} MiB of outputs (the parallel run, which journals nothing: ${(parallel.storeWriteBytes / 2 ** 20).toFixed(1)} MiB); goal ≤ 3×`,
        },
        {
          name: '  resumable ÷ parallel wall-clock',
          value: (resumable.ms / parallel.ms).toFixed(2),
          note: 'the two runs above, one after the other on a shared machine; goal ≤ 1.2',
        },
      );
      results.payloads = { runs, floor };
    },
    async batch() {
      const kb = `${(num('promptBytes') / 1024).toFixed(0)} KB`;
      const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
      const perStep = (cpuS: number, steps: number) => `${((1000 * cpuS) / steps).toFixed(2)} ms`;
      const runs = [];
      for (const steps of options.batchSteps.split(',').map(Number)) {
        console.error(
          `batch: tao start --items, ${steps} steps with ${kb} prompts and outputs, fresh worker`,
        );
        const run = await taoBatchRun(env.client, env.address, storeDir, steps, num('promptBytes'));
        console.error(`batch: the same ${steps} items through a hand-written sliding-window batch`);
        const hand = await handBatchRun(env.client, env.address, storeDir, steps, num('promptBytes'));
        runs.push({ tao: run, hand });
        const rate = (r: typeof hand) => `${(r.steps / (r.ms / 1000)).toFixed(0)} steps/s`;
        const parts = Object.entries(run.parts)
          .map(([name, bytes]) => `${name} ${mib(bytes)}`)
          .join(', ');
        figures.push(
          {
            name: `batch run, ${steps} steps, ${kb} prompts and outputs`,
            value: `${seconds(run.ms)}, ${rate(run)}`,
            note: `from \`tao start --items\` starting (every line checked and uploaded, ${seconds(run.startMs)} to its exit) to the run's result; a fresh standalone \`tao worker --executor script:<rules echoing the prompt> --store file:… --concurrency 100\`; every step succeeded (checked)`,
          },
          {
            name: '  worker memory, idle → peak',
            value: `${run.idleMiB.toFixed(0)} → ${run.peakMiB.toFixed(0)} MiB`,
            note: 'RSS of that worker (no heap flag given; the worker limits its heap growth itself, see limitHeapGrowth), 3 s after start and at most during the run (sampled every 100 ms); goal ≤ 400 MiB, flat across sizes (below)',
          },
          {
            name: '  worker heaps held after each full GC',
            value: `${run.heaps.heldMin.toFixed(1)}–${run.heaps.heldMax.toFixed(1)} MB; first tenth ≤ ${run.heaps.heldMaxFirstTenth.toFixed(1)}, last tenth ≤ ${run.heaps.heldMaxLastTenth.toFixed(1)}`,
            note: `what each of the worker's two V8 heaps (main thread, workflow thread) still held after each of its ${run.heaps.count} full collections (the worker run with --trace-gc, not a heap flag): memory the run keeps, garbage aside; a heap grew to at most ${run.heaps.usedMaxBefore.toFixed(1)} MB before one (V8's headroom over what it holds), which with the worker's native memory is the RSS peak`,
          },
          {
            name: '  histories',
            value: `${run.histories.executions} executions; largest ${run.histories.maxEvents} events, ${mib(run.histories.maxBytes)}`,
            note: "every execution of the run (its continue-as-new chain, and its children's when it split), the history length and size the server reports for each (DescribeWorkflowExecution's historyLength, historySizeBytes); goal < 20,000 events and < 10 MB",
          },
          {
            name: '  device writes per outcome byte',
            value: `${(run.writtenBytes / run.outcomeBytes).toFixed(2)}×`,
            note: `the worker's write_bytes (/proc/<pid>/io: pages it dirtied, each fsynced append's page again) ${mib(run.writtenBytes)}, over ${mib(run.outcomeBytes)} of outcome JSON read back through results(); on disk after the run, in whole pages: ${parts}; goal ≤ 3×`,
          },
          {
            name: '  CPU per step',
            value: `worker ${perStep(run.workerCpuS, steps)}, dev server ${perStep(run.serverCpuS, steps)}`,
            note: `utime + stime over the run (/proc/<pid>/stat): the worker ${run.workerCpuS.toFixed(0)} s (${(run.workerCpuS / (run.ms / 1000)).toFixed(2)} cores), the dev server (SQLite in memory) ${run.serverCpuS.toFixed(0)} s (${(run.serverCpuS / (run.ms / 1000)).toFixed(2)} cores), on ${cpus().length} cores; the \`tao start\` process not counted`,
          },
          {
            name: '  hand-written sliding-window batch, same items',
            value: `${seconds(hand.ms)}, ${rate(hand)}; ${hand.idleMiB.toFixed(0)} → ${hand.peakMiB.toFixed(0)} MiB; CPU per step worker ${perStep(hand.workerCpuS, steps)}, dev server ${perStep(hand.serverCpuS, steps)}`,
            note: `scripts/bench/hand-batch on a fresh bare SDK worker (TAO's codec, no TAO activities or stores): a page of 200 items read by an activity, an activity per item echoing its prompt to a file (appended, no fsync), 100 in flight, continue-as-new every 2,000 items (the window drains first); ${hand.histories.executions} executions, largest ${hand.histories.maxEvents} events, ${mib(hand.histories.maxBytes)}; TAO ÷ hand-written wall time ${(run.ms / hand.ms).toFixed(2)}`,
          },
        );
      }
      const bySize = runs.map((r) => r.tao).sort((a, b) => a.steps - b.steps);
      figures.push({
        name: 'batch runs: worker peak, largest run ÷ smallest',
        value: (bySize.at(-1)!.peakMiB / bySize[0]!.peakMiB).toFixed(2),
        note: `peaks ${bySize.map((r) => `${r.peakMiB.toFixed(0)} MiB at ${r.steps} steps`).join(', ')}; goal ≤ 1.10 (flat memory)`,
      });
      results.batch = runs;
    },
    async 'batch-crash'() {
      const steps = num('batchCrashSteps');
      console.error(
        `batch-crash: tao start --items, ${steps} steps, the worker SIGKILLed three times (seed ${options.seed})`,
      );
      const run = await batchCrashRun(
        env.client,
        env.address,
        storeDir,
        steps,
        num('promptBytes'),
        num('seed'),
      );
      results.batchCrash = run;
      const kb = `${(num('promptBytes') / 1024).toFixed(0)} KB`;
      figures.push(
        {
          name: `batch run through 3 SIGKILLs, ${steps} steps`,
          value: `${seconds(run.ms)}, ${(steps / (run.ms / 1000)).toFixed(0)} steps/s; ${run.summary.total} settled, ${run.summary.failed} failed`,
          note: `as the batch section's run (${kb} prompts echoed, \`tao start --items\`, a standalone \`tao worker --executor script:… --store file:… --concurrency 100\`), its worker SIGKILLed ${run.kills.map((k) => k.planned).join(', ')} (from --seed ${run.seed}), a fresh worker started at once each time; checked: the summary counts every step and none failed, results() reads back exactly one successful outcome for each seq 0..${steps - 1}; load average ${run.load.map((l) => l.toFixed(1)).join(' → ')} on ${cpus().length} cores`,
        },
        {
          name: '  steps run again',
          value: `${run.history.stepsRetried}, ${run.reRunSteps} of them put twice; an earlier put at most ${seconds(run.maxGapMs)} before its worker's kill, ${run.beyondWindow.length} beyond the ${seconds(run.windowMs)} window`,
          note: `ran again: completed on a later attempt than the first, in every execution's history (the steps the kills caught in flight); put twice: the file store's segments (every put kept, stamped, a segment per worker process) hold its outcome more than once, the earlier put's stamp to its worker's SIGKILL being the gap; by kill: ${run.kills.map((k, i) => `#${i + 1} ${k.reRuns} put twice, at most ${seconds(k.maxGapMs)} before it`).join('; ')}; the window is the default step policy's heartbeat timeout (a put whose completion is not at the server within it is retried with no kill); goal: 0 beyond the window`,
        },
        {
          name: '  failover per kill: first step settled, back at pace',
          value: run.kills.map((k) => `${seconds(k.firstPutMs)} / ${seconds(k.atPaceMs)}`).join(', '),
          note: `from each SIGKILL to the first outcome put after it, and to the moment from which a second holds half the run's median puts a second (${run.halfPace} puts); the replacement polling ${run.kills.map((k) => seconds(k.replacementMs)).join(', ')} after the kill; kills ${run.kills.map((k) => `${seconds(k.atMs)} (${k.settled} settled)`).join(', ')} into the run; workflow tasks timed out (history): ${
            Object.entries(run.history.workflowTasksTimedOut)
              .map(([type, n]) => `${n} ${type}`)
              .join(', ') || 'none'
          }: a kill that catches one in flight holds the whole run for its timeout (Temporal's default 10 s), while the steps it caught wait for their heartbeat timeout (7 s, then a 1 s retry)`,
        },
        {
          name: '  worker peak RSS, per process',
          value: run.workerPeaksMiB.map((mib) => `${mib.toFixed(0)} MiB`).join(', '),
          note: 'each standalone worker in turn (the last one ran the run to its end), sampled every 100 ms until its kill',
        },
      );
      if (run.beyondWindow.length) {
        const listed = run.beyondWindow
          .slice(0, 20)
          .map(
            (r) =>
              `seq ${r.seq} (pid ${r.pid}, ${r.gapMs === undefined ? 'a worker never killed' : seconds(r.gapMs)})`,
          );
        console.error(
          `batch-crash: BROKEN: ${run.beyondWindow.length} steps ran again whose earlier put came more than ${seconds(run.windowMs)} before its worker's kill: ${listed.join(', ')}`,
        );
        process.exitCode = 1;
      }
    },
    async journal() {
      console.error(`journal: ${options.resumableSteps} steps with 4 KB outputs, file store and PostgreSQL`);
      const journal = await journalCost(
        env.client,
        (store, body) => withWorker(env, journalScript, 100, body, store),
        join(storeDir, 'journal'),
        num('resumableSteps'),
      );
      results.journal = journal;
      figures.push(
        {
          name: `resumable run, 4 KB outputs, ${journal.steps} steps: bytes written per recorded byte`,
          value: `file ${journal.file.writtenPerRecorded.toFixed(2)}×, PostgreSQL ${journal.postgres.writtenPerRecorded.toFixed(2)}×`,
          note: "file: bytes the store wrote (journal lines and folds); PostgreSQL: the server's WAL (pg_stat_wal); over the outputs' bytes; goal ≤ 3× on both",
        },
        {
          name: '  the same, time against a parallelWorkflow',
          value: `file ${(journal.file.ms / journal.parallelMs).toFixed(2)}, PostgreSQL ${(journal.postgres.ms / journal.parallelMs).toFixed(2)}`,
          note: `resumable ÷ parallel wall-clock (parallel ${journal.parallelRunsMs.map(seconds).join(' before, ')} after, mean ${seconds(journal.parallelMs)}; file ${seconds(journal.file.ms)}, PostgreSQL ${seconds(journal.postgres.ms)}), worker in this process, limit 100; goal ≤ 1.2`,
        },
      );
    },
    async baseline() {
      console.error('hand-written Temporal: the same shapes as plain workflows with their own promise pool');
      const rounds = num('baselineRounds');
      const { comparisons, anatomy } = await compareWithHandWritten(env.client, env.native, rounds);
      results.handWritten = { comparisons, sequentialStepAnatomy: anatomy };
      for (const c of comparisons) {
        figures.push({
          name: `TAO ÷ hand-written, ${c.shape}`,
          value: c.ratio.toFixed(2),
          note: `median of ${c.roundRatios.length} rounds (at least ${rounds}, more while the shape had run < ${SHAPE_TIME_MS / 1000} s, up to ${MAX_ROUNDS}), the sides taking turns at going first: TAO ${seconds(c.taoMs)}, hand-written ${seconds(c.baselineMs)} (${(c.taoMs / c.steps).toFixed(1)} vs ${(c.baselineMs / c.steps).toFixed(1)} ms a step); each round's own ratio ${Math.min(...c.roundRatios).toFixed(2)}–${Math.max(...c.roundRatios).toFixed(2)}; the hand-written workflows against a twin of themselves, for the noise: ${c.twinRatio.toFixed(2)}; goal ≤ 1.15 (1.0: a step keeps what it does for users; see docs/deploy.md, Sizing)`,
        });
      }
      const cycle = anatomy.reduce((sum, gap) => sum + gap.meanMs, 0);
      figures.push({
        name: '  a sequential step, from its history',
        value: `${cycle.toFixed(1)} ms`,
        note: anatomy.map((gap) => `${gap.from} → ${gap.to} ${gap.meanMs.toFixed(1)} ms`).join('; '),
      });
    },
    async agents() {
      const steps = num('agents');
      console.error(`agents: ${steps} llm steps in flight on one worker, each answer streamed over 5 s`);
      const run = await manyAgents(env.client, benchServer(env), storeDir, steps, 5_000);
      results.manyAgents = run;
      figures.push(
        {
          name: `${steps} llm steps in flight on one worker`,
          value: `${run.stepsPerSecond.toFixed(0)} steps/s, ${seconds(run.wallMs)}`,
          note: `standalone \`tao worker --executor llm:… --concurrency ${steps}\`, fake OpenAI server streaming each answer over 5 s (ideal: ${seconds(run.streamMs)}); the last step's model request ${seconds(run.rampMs)} after the start, at most ${run.peakStreams} streams open at once`,
        },
        {
          name: '  worker memory, idle → peak',
          value: `${run.idleMiB.toFixed(0)} → ${run.peakMiB.toFixed(0)} MiB`,
          note: 'RSS, sampled every 100 ms; goal < 1.5 GiB at 2,000 steps',
        },
        {
          name: '  event-loop delay',
          value: `p99 ${run.lagP99Ms.toFixed(1)} ms, max ${run.lagMaxMs.toFixed(1)} ms`,
          note: "the worst of the worker's 5-second windows (its tao_event_loop_delay_* gauges); goal p99 < 100 ms",
        },
      );
    },
    async scaling() {
      const counts = [1, 2, 4];
      const steps = num('scaleSteps');
      console.error(`scaling: ${steps} zero-delay steps on ${counts.join(', ')} worker processes`);
      const points = await scaling(env.client, benchServer(env), counts, steps);
      results.scaling = points;
      figures.push({
        name: 'throughput by worker processes, zero-delay steps',
        value: points.map((p) => `${p.workers}: ${p.stepsPerSecond.toFixed(0)}/s`).join(', '),
        note: `${steps} steps in 4 child workflows of 50 in flight each, on 1, 2 and 4 standalone workers (\`--executor script --concurrency 100\`) on one task queue, beside the dev server on this machine's ${cpus().length} cores`,
      });
    },
    async 'prompt-cache'() {
      const turns = num('cacheTurns');
      console.error(`prompt cache: a ${turns}-turn llm tool loop billed by the fake Anthropic server`);
      const bills = await promptCacheBills(turns, num('cacheFileChars'));
      results.promptCache = bills;
      const { withCache: cached, withoutCache: uncached } = bills;
      const tokens = (n: number) => Math.round(n).toLocaleString('en-US');
      const dollars = (usd: number) => `$${usd.toFixed(4)}`;
      figures.push({
        name: `${turns}-turn llm tool loop, billed input tokens (Anthropic)`,
        value: `${tokens(uncached.baseEquivalent)} without caching, ${tokens(cached.baseEquivalent)} with (${((100 * cached.baseEquivalent) / uncached.baseEquivalent).toFixed(0)}%)`,
        note: `one llm step in this process (no Temporal), its model reading a ${options.cacheFileChars}-character file on each turn but the last, against the fake Anthropic server billing by Anthropic's prompt-cache rules (≤ 4 breakpoints, exact prefix match with a 20-block lookback, 1,024-token minimum, tokens ≈ JSON chars / 4); input tokens at the base price, cache writes counted 1.25×, reads 0.1×: with TAO's breakpoints ${tokens(cached.uncached)} uncached + ${tokens(cached.cacheWrite)} written + ${tokens(cached.cacheRead)} read; without = the same requests with the breakpoints taken out; at $3/$15 per M, ${dollars(uncached.costUsd)} → ${dollars(cached.costUsd)}, and the step's usage.costUsd ${dollars(bills.stepCostUsd)}`,
      });
    },
    async tls() {
      console.error(
        'tls: a wrong TLS setting, from `tao worker` or `tao run` starting to its one-line error',
      );
      const times = await tlsFailureTimes(env.address);
      results.tls = times;
      const sorted = times.map((t) => t.ms).sort((a, b) => a - b);
      const slowest = times.reduce((a, b) => (b.ms > a.ms ? b : a));
      figures.push({
        name: 'a wrong TLS setting, to its one-line error',
        value: `max ${seconds(slowest.ms)}, p50 ${seconds(sorted[Math.floor(sorted.length / 2)]!)}`,
        note: `${times.length / 2} mistakes (${times
          .filter((t) => t.command === 'tao worker')
          .map((t) => t.mistake)
          .join(
            '; ',
          )}) × \`tao worker\` and \`tao run\`, each a fresh process, against a TLS-terminating proxy that requires a client certificate, in front of the dev server; spawn to exit; the slowest: ${slowest.command}, ${slowest.mistake}; goal ≤ 15 s (docs/deploy.md)`,
      });
    },
    async ui() {
      const steps = num('uiSteps');
      console.error(`ui: the page of a ${steps}-step run in headless Chromium`);
      const ui = await withWorker(env, {}, 100, (taskQueue) => uiOnBigRun(env.client, taskQueue, steps));
      console.error("ui: a running step's latest output reaching its open page");
      const talker = new TalkingExecutor(LIVE_LINE_EVERY_MS);
      const live = await withWorker(env, talker, 1, (taskQueue) =>
        liveOutputLatency(env.client, taskQueue, talker, LIVE_LINES, LIVE_LINE_EVERY_MS),
      );
      results.ui = { ...ui, liveOutput: live };
      figures.push(
        {
          name: `tao ui: a ${steps}-step run's page, open`,
          value: `${seconds(ui.runPageMs)}; a partition of ${ui.partitionRows} rows ${seconds(ui.partitionPageMs)}`,
          note: 'headless Chromium (Debian chromium, playwright-core) from navigation to the partitions table shown, and from a reload to all rows of the first partition; every step waiting for approval; goal < 2 s',
        },
        {
          name: '  scrolling the partition, frame length',
          value: `p95 ${ui.frameP95Ms.toFixed(1)} ms, max ${ui.frameMaxMs.toFixed(1)} ms`,
          note: `${ui.scrollFrames} frames scrolling to the bottom at 60 px a frame, while the page refreshes every second; 16.7 ms is 60 fps`,
        },
        {
          name: "tao ui: a running step's latest output, published to shown",
          value: `p50 ${seconds(live.p50Ms)}, p95 ${seconds(live.p95Ms)}, max ${seconds(live.maxMs)}`,
          note: `${live.lines} lines, one every ${live.everyMs} ms, from the executor's context.output to the open run page (headless Chromium, no reload) showing that line or a later one, both on the machine clock; goal ≤ 2 s`,
        },
      );
    },
    async timeline() {
      const steps = TIMELINE_STEPS;
      console.error(`timeline: a ${steps}-step run's timeline in headless Chromium`);
      // Opened twice: with the run's worker in this process (as `tao dev` serves the page, the worker replaying
      // the closed run for the page's progress query), then with none (as `tao ui` beside a fleet of workers).
      const { run, beside } = await withWorker(env, timelineScript(), 200, async (taskQueue) => {
        const run = await timelineRun(env.client, taskQueue, steps);
        return { run, beside: await timelineOpens(env.client, run.workflowId) };
      });
      const alone = await timelineOpens(env.client, run.workflowId);
      results.timeline = { ...run, beside, alone };
      const ms = (n: number) => `${Math.round(n)} ms`;
      const opens = (o: typeof beside) =>
        `${seconds(o.cold.openMs)} (history read ${ms(o.cold.serverMs)}, drawn ${ms(o.cold.drawMs)} after); kept: ${o.warm
          .map((w) => w.openMs)
          .sort((a, b) => a - b)
          .map((w) => seconds(w))
          .join(', ')}`;
      const shape = `a closed parallel run of ${run.steps} steps (${run.retried} retried once, ${run.delegated} delegating a task: ${beside.rows} rows), ${run.executions} executions (it continued as new) of ${run.historyEvents} history events in all`;
      figures.push(
        {
          name: `tao ui: a ${steps}-step run's timeline, drawn`,
          value: opens(alone),
          note: `headless Chromium, ${shape}; from navigation to the frame in which the timeline's canvas has drawn; the first open on a fresh UI server reads every execution's history (each step's input decoded), the next four get the kept timeline; no worker in the UI server's process (as \`tao ui\` beside a fleet: the page's progress query goes to the workers); goal < 1 s`,
        },
        {
          name: "  the same, the run's worker in the same process",
          value: opens(beside),
          note: "as `tao dev` serves the page: the worker in the UI server's process replays the closed run for the page's progress query meanwhile, on the same thread",
        },
      );
    },
    async 'step-page'() {
      console.error("step-page: a streamed chunk reaching a step's open page; a 500-turn transcript opening");
      const store = new FileSessionStore(env.storeDir);
      const step = await stepPage(
        env.client,
        store,
        (executor, body) => withWorker(env, executor, 1, body, store),
        { rounds: STEP_PAGE_ROUNDS, chunkEveryMs: STEP_PAGE_CHUNK_EVERY_MS, turns: 500 },
      );
      results['step-page'] = step;
      figures.push(
        {
          name: "tao ui: a step's streamed text, model chunk to shown",
          value: `p50 ${seconds(step.safe.p50Ms)}, p95 ${seconds(step.safe.p95Ms)}, max ${seconds(step.safe.maxMs)}`,
          note: `${step.chunksLettingOut} of ${step.chunks} content chunks of an llm step (fake OpenAI server, a frame every ${step.chunkEveryMs} ms, ${STEP_PAGE_ROUNDS} rounds with a tool call each), from the server writing the chunk to the open step page (headless Chromium) showing what of it the executor lets out at once (all but the turn's last ${step.holdBack} characters, held until more text proves no secret is split there): the worker's transcript writer (100 ms batches), the file store, the UI server's event stream (reads every 100 ms); both on the machine clock; goal ≤ 0.5 s`,
        },
        {
          name: '  the whole chunk, held-back tail included',
          value: `p50 ${seconds(step.whole.p50Ms)}, p95 ${seconds(step.whole.p95Ms)}, max ${seconds(step.whole.maxMs)}`,
          note: `all ${step.chunks} chunks: a chunk's last characters show once the model sends more text or ends its turn (here after its tool call's frames)`,
        },
        {
          name: `tao ui: a ${step.turns}-turn transcript, open`,
          value: `${[...step.openMs]
            .sort((a, b) => a - b)
            .map((ms) => seconds(ms))
            .join(', ')}`,
          note: `${step.events} events (streamed text, a tool call and result, usage per turn) in the file store, ${step.openMs.length} opens each on a fresh page, from navigation to the step page showing the whole transcript ended; the event stream asked at ${step.opens.map((o) => Math.round(o.askedMs)).join('/')} ms, its first byte at ${step.opens.map((o) => Math.round(o.firstByteMs)).join('/')} ms, its last at ${step.opens.map((o) => Math.round(o.lastByteMs)).join('/')} ms; goal < 1 s`,
        },
      );
    },
    async inbox() {
      const foreign = num('inboxForeign');
      console.error(
        `inbox: tao pending beside ${foreign} running workflows of another team, no worker polling theirs`,
      );
      const inbox = await withWorker(env, {}, 10, (taskQueue) =>
        inboxBesideForeign(env.client, taskQueue, foreign),
      );
      results.inbox = inbox;
      figures.push({
        name: `tao pending beside ${foreign} foreign running workflows`,
        value: `${seconds(inbox.visibilityMs)}; asking every running workflow ${seconds(inbox.everyRunMs)}`,
        note: `pendingDecisions with prompts, in this process (median of 5), listing the ${inbox.listed} steps of one TAO run waiting for approval: one visibility query for the runs whose TaoWaitingSteps is set; the foreign runs (no worker polls their queue) get no query. As the inbox read before, every running workflow asked, each within 3 s: ${inbox.everyRunUnanswered} unanswered`,
      });
    },
    async delegation() {
      const limit = num('delegationLimit');
      const [slowLeads, slowMs] = options.delegationSlow.split(':').map(Number) as [number, number];
      const shapes = [
        ...options.delegationLeads.split(',').map((leads) => ({ leads: Number(leads), taskMs: 0 })),
        { leads: slowLeads, taskMs: slowMs },
      ];
      const runs = [];
      for (const { leads, taskMs } of shapes) {
        const pace = taskMs > 0 ? `, each task ${taskMs} ms` : '';
        console.error(`delegation: ${leads} leads × ${TASKS_PER_LEAD} tasks at concurrency ${limit}${pace}`);
        const run = await withWorker(env, delegatingScript(limit, taskMs), limit, (taskQueue) =>
          delegationRun(env.client, taskQueue, leads, limit),
        );
        runs.push({ ...run, taskMs });
        figures.push({
          name: `delegation: ${leads} leads × ${TASKS_PER_LEAD} tasks, concurrency ${limit}${pace}`,
          value: `${seconds(run.wallMs)}; ${run.executions} executions, largest ${run.maxEvents} events; longest activation ${seconds(run.longestTaskMs)}; ${run.failedTasks} workflow tasks failed or timed out (${run.forceClosed} by the server: over 100 events arrived during one); at most ${run.peakInFlight} activities in flight in one execution`,
          note: `script executor, no model${taskMs > 0 ? `, tasks of ${taskMs} ms` : ', instant tasks'}, 1 KB task prompts; an activation is a workflow task from its started to its completed event; goals: complete, each execution under 20,000 events, no activation over 1 s, no failed task, time linear in leads`,
        });
      }
      results.delegation = runs;
    },
    async chaos() {
      const seeds = chaosSeeds(num('seed'), num('chaosSeeds'));
      console.error(
        `chaos: ${seeds.length} runs, each with its worker processes SIGKILLed on a seeded schedule`,
      );
      const run = await chaos(env.client, seeds);
      results.chaos = run;
      const broken = run.seeds.filter((s) => s.broken.length);
      figures.push({
        name: 'chaos: seeded SIGKILLs inside runs',
        value: `${run.runs} runs, ${run.kills} kills: ${run.duplicated} duplicated, ${run.lostSideEffects} lost, ${run.finishedStepsRunAgain} finished steps run again, ${run.wrongOutcomes} wrong outcomes`,
        note: `llm step (run_shell + MCP tool; file store, PostgreSQL), delegating lead, \`command\` steps in turn, each killed twice (a random delay after a random model request or step start) on worker processes with a replacement started at once (test/support/kill-schedule.ts); ${run.killsInsideWork} kills caught a step in flight; ${run.redone} things done again within the at-least-once window (one per step a kill caught in flight); duplicated = beyond it; all four counts must be 0; seeds (from --seed ${options.seed}): ${run.seeds.map((s) => s.seed).join(', ')}${broken.length ? `; BROKEN: ${broken.map((s) => `${s.schedule} (${s.scenario}): ${s.broken.join('; ')}`).join(' | ')}` : ''}`,
      });
      if (broken.length) {
        console.error(
          `chaos: ${broken.length} runs broke the rule: seeds ${broken.map((s) => s.seed).join(', ')}`,
        );
        process.exitCode = 1;
      }
    },
  };
  try {
    for (const name of SECTIONS)
      if (only ? only.includes(name) : !ONLY_ON_REQUEST.includes(name)) await sections[name]();
    printTable(figures);
    const args = process.argv.slice(2);
    const command = args.length ? `npm run bench -- ${args.join(' ')}` : 'npm run bench';
    const date = new Date().toISOString().slice(0, 10);
    mkdirSync('benchmarks', { recursive: true });
    writeFileSync(
      options.results,
      `${JSON.stringify({ command, date, commit: commitOf(), machine: machine(cli), results }, null, 2)}\n`,
    );
    if (only) {
      console.error(`wrote ${options.results}; BENCHMARKS.md is written by a run of every section`);
      return;
    }
    const chartPath = 'benchmarks/chart.svg';
    writeFileSync(chartPath, barChart(chart));
    writeFileSync(
      options.out,
      markdown(
        'TAO benchmarks',
        [
          `Produced by \`${command}\` on ${date}; every number is also in [${options.results}](${options.results}).`,
          `Machine: ${machine(cli)}. Local Temporal dev server (SQLite in memory); the worker in this process unless a row says a standalone worker or worker processes; the \`script\` executor sleeps each step's seeded delay.`,
          'Every figure is from this one run; on a small shared machine expect run-to-run noise.',
        ],
        figures,
        chartPath,
      ),
    );
    console.error(`wrote ${options.out}, ${chartPath} and ${options.results}`);
  } finally {
    await connection.close();
    await native.close();
    await server.stop();
    rmSync(storeDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
