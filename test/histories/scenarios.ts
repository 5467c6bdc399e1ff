/**
 * The runs whose histories guard workflow determinism. Each covers a path
 * through the workflow code (cache hits, failures, crashes, retries, skipped
 * stages, rejected input); `record.ts` runs them on a dev server and saves the
 * histories, and the replay test replays every one against today's code.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import {
  answerStep,
  approveStep,
  cancelStep,
  pauseRun,
  rejectStep,
  resumeRun,
  sendMessage,
  setRunBudget,
  setRunConcurrency,
} from '../../src/client';
import type { Progress, StepStatus } from '../../src/workflows/lib';
import { stepCacheKey } from '../../src/activities/step-cache';
import {
  AgentStepSpecSchema,
  type AgentStepSpecInput,
  WORKFLOW_CHECKPOINT_SCHEMA_VERSION,
} from '../../src/contracts';
import { ScriptExecutor, type ScriptFile } from '../../src/executors/script';
import { FileOutcomeStore } from '../../src/outcomes';
import { FileSessionStore } from '../../src/stores/file-store';
import { encodeA3sCheckpoint } from '../../src/stores/a3s-codec';
import { specDigest } from '../../src/workflows/lib/spec-digest';
import { echoed, spec } from '../support/specs';

export const HISTORY_DIR = __dirname;

/** One executor script for every scenario: task ids pick the behaviour. */
/** Where the batch scenario's source is written before its run; the history names it, replay never reads it. */
const BATCH_SOURCE = '/tmp/tao-history-batch.jsonl';
const writeBatchSource = (specs: (string | AgentStepSpecInput)[]) =>
  writeFileSync(
    BATCH_SOURCE,
    specs.map((given) => JSON.stringify(typeof given === 'string' ? spec(given) : given)).join('\n'),
  );

export const SCENARIO_SCRIPT: ScriptFile = {
  concurrency: 2,
  default: { delayMs: 20 },
  tasks: {
    red: { success: false, output: 'tests red' },
    crash: { throw: 'agent runtime died' },
    flaky: { failAttempts: 1 },
    slow: { delayMs: 1_500 },
    'plan-x/task-1-2': { delayMs: 1_500 },
    'queued/task-1-1': { delayMs: 1_500 },
    // Asks a person first (as an llm agent's ask_user), then answers with what it was told.
    asks: { ask: { question: 'Which API?', choices: ['v1', 'v2'] }, output: 'using {{answer}}' },
    // Asks a person whether its tool call may run (as an llm agent's `ask` rule), then says what was decided.
    ...Object.fromEntries(
      ['edits', 'edits-too', 'edits-no', 'edits-late'].map((id) => [
        id,
        {
          ...(id === 'edits-late' ? { delayMs: 1_500 } : {}),
          toolCall: { tool: 'run_shell', input: { command: `rm -rf ${id}` } },
          output: '{{toolDecision}}{{#comment}}: {{comment}}{{/comment}}',
        },
      ]),
    ),
    'asks-late': {
      ask: { question: 'Which API?', timeoutMs: 1_000, onTimeout: { answer: 'v1' } },
      output: 'using {{answer}}',
    },
    ...Object.fromEntries(
      [1, 2, 3].map((round) => [`red-r${round}`, { success: false, output: 'still red' }]),
    ),
  },
  agents: {
    // Its profile caches every step of it (as an llm agent profile's `cache` does): see `parallel-agent-cache`.
    recall: { cache: { ttlMs: 3_600_000 } },
    review: { output: 'approve {{prompt}}', structured: { verdict: 'approve' } },
    plan: { output: 'planned', structured: { files: [{ path: 'a.ts' }, { path: 'b.ts' }] } },
    lead: {
      delegate: [
        { agent: 'explore', description: 'read', prompt: 'read a.ts' },
        { agent: 'review', description: 'check', prompt: 'check b.ts' },
      ],
    },
  },
};

export interface Scenario {
  name: string;
  workflowType: string;
  input: unknown;
  /** Prepares the file store before the run (e.g. an unreadable checkpoint). */
  seedStore?: (storeDir: string, checkpointId: string) => void | Promise<void>;
  /** The run is expected to fail (rejected input). */
  fails?: boolean;
  /** Steers the run while it runs (updates), before its result is awaited. */
  drive?: (handle: WorkflowHandle) => Promise<void>;
  /**
   * Run by a worker whose executor declares that its steps read messages
   * (`acceptsMessages`): the script executor's steps do not read them, but
   * what the history records is the workflow's side, the `message` Update.
   */
  messages?: true;
}

/** Approves `a` before it starts, then rejects `b`'s outcome once it ran. */
async function decide(handle: WorkflowHandle): Promise<void> {
  await untilWaiting(handle, 'a');
  await approveStep(handle, { taskId: 'a', comment: 'go' });
  await untilWaiting(handle, 'b');
  await rejectStep(handle, { taskId: 'b', comment: 'not this one' });
}

/** On a budget that waits: raises it for `c`, approves `d` past it, rejects `e`. */
async function decideOverBudget(handle: WorkflowHandle): Promise<void> {
  await untilWaiting(handle, 'c');
  await setRunBudget(handle, { maxSteps: 3 });
  await untilWaiting(handle, 'd');
  await approveStep(handle, { taskId: 'd' });
  await untilWaiting(handle, 'e');
  await rejectStep(handle, { taskId: 'e', comment: 'enough' });
}

/** While `slow` runs alone: pause, raise the concurrency, cancel the pending `c`, resume. */
async function steer(handle: WorkflowHandle): Promise<void> {
  await untilRunning(handle, 'slow');
  await pauseRun(handle);
  await setRunConcurrency(handle, 2);
  await cancelStep(handle, 'c');
  await resumeRun(handle);
}

/** Cancels `taskId` alone once it runs. */
const cancelWhileRunning = (taskId: string) => async (handle: WorkflowHandle) => {
  await untilRunning(handle, taskId);
  await cancelStep(handle, taskId);
};

const untilRunning = (handle: WorkflowHandle, taskId: string) => untilStatus(handle, taskId, 'running');
const untilWaiting = (handle: WorkflowHandle, taskId: string) => untilStatus(handle, taskId, 'waiting');

async function untilStatus(handle: WorkflowHandle, taskId: string, status: StepStatus): Promise<void> {
  for (;;) {
    const progress = await handle.query<Progress>('progress');
    if (progress.steps.find((step) => step.taskId === taskId)?.status === status) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A checkpoint this build cannot read: the a3s fixture from a newer schema. */
function seedFutureSchemaCheckpoint(storeDir: string, checkpointId: string): void {
  const dir = join(storeDir, 'workflow_checkpoints');
  mkdirSync(dir, { recursive: true });
  copyFileSync(
    join(__dirname, '../fixtures/a3s-checkpoints/future-schema.json'),
    join(dir, `${checkpointId}.json`),
  );
}

/** A checkpoint holding `a` as produced by another spec than the scenario's (a different digest). */
const seedStaleCheckpoint = (storeDir: string, checkpointId: string) =>
  seedCheckpoint(storeDir, checkpointId, `sha256:${'0'.repeat(64)}`);

/** A checkpoint holding `taskId`, recorded for the spec with `specDigest` (or, without one, for any). */
function seedCheckpoint(
  storeDir: string,
  checkpointId: string,
  specDigest: string | undefined,
  taskId = 'a',
): void {
  const dir = join(storeDir, 'v1', 'workflow_checkpoints');
  mkdirSync(dir, { recursive: true });
  const checkpoint = {
    schemaVersion: WORKFLOW_CHECKPOINT_SCHEMA_VERSION,
    workflowId: checkpointId,
    steps: [
      {
        taskId,
        outcome: echoed(taskId, specDigest ? 'from the old prompt' : 'from the checkpoint'),
        ...(specDigest ? { specDigest } : {}),
      },
    ],
    checkpointMs: 1,
  };
  const name = `id_${Buffer.from(checkpointId).toString('base64url')}.json`;
  writeFileSync(join(dir, name), encodeA3sCheckpoint(checkpoint));
}

const quickRetry = { initialRetryIntervalMs: 100, maximumAttempts: 3 };
const reviewStages = [
  { taskId: 'explore-{{index}}', agent: 'explore', prompt: '{{item.path}}' },
  {
    taskId: 'review-{{index}}',
    agent: 'review',
    prompt: '{{prev.output}}',
    when: { field: 'prev.success', equals: true },
  },
  {
    taskId: 'verify-{{index}}',
    agent: 'verify',
    prompt: '{{prev.output}}',
    when: { field: 'prev.structured.verdict', equals: 'approve' },
  },
];
/** A loop's rounds: a draft, then a review of the previous round's output each round. */
const reviewRounds = {
  initial: [spec('draft')],
  next: {
    specs: [
      { taskId: 'review-{{round}}', agent: 'review', prompt: 'round {{round}}: {{outcomes.0.output}}' },
    ],
  },
};
const resumableSpecs = [spec('a'), spec('red'), spec('flaky'), spec('b')];

/** A rerun's reused step (see workflows/lib/reuse): `taskId` ran `prompt` as `agent` in `history-earlier`. */
const lent = (taskId: string, agent: string, prompt: string, output: string) => ({
  taskId,
  specDigest: specDigest({ ...spec(taskId, agent, prompt), description: '' }),
  outcome: echoed(taskId, output, agent),
});
const rerunOf = (...steps: ReturnType<typeof lent>[]) => ({ fromWorkflowId: 'history-earlier', steps });

/** `a`'s step, cached by the scenario executor in `history-earlier`: the cache hit of `parallel-cache`. */
const cachedA: AgentStepSpecInput = { ...spec('a'), cache: { key: 'commit-1' } };
async function seedCachedA(storeDir: string): Promise<void> {
  const parsed = AgentStepSpecSchema.parse(cachedA);
  await new FileSessionStore(storeDir).putCached({
    key: stepCacheKey(parsed, new ScriptExecutor(SCENARIO_SCRIPT)),
    taskId: 'a',
    agent: 'explore',
    workflowId: 'history-earlier',
    savedMs: 1,
    outcome: echoed('a', 'do a'),
  });
}

export const SCENARIOS: Scenario[] = [
  {
    // The step cache across runs: `a` is a hit (no budget charge), `b` a miss that runs and is kept, `c` opts out.
    name: 'parallel-cache',
    workflowType: 'parallelWorkflow',
    input: {
      specs: [cachedA, { ...spec('b'), cache: { ttlMs: 60_000 } }, spec('c')],
      budget: { maxSteps: 2 },
    },
    seedStore: seedCachedA,
  },
  {
    // The agent profile's cache, read with an explicit concurrency (patched): `r1` runs and is kept, so
    // `r2` (the same work under another task id, after it) is a hit; `c` is another agent's, not looked up.
    name: 'parallel-agent-cache',
    workflowType: 'parallelWorkflow',
    input: {
      specs: [spec('r1', 'recall', 'remember'), spec('c'), spec('r2', 'recall', 'remember')],
      concurrency: 1,
    },
  },
  {
    // A rerun: `a` is reused, `b`'s spec changed since (its entry does not match), `c` is new.
    name: 'parallel-rerun',
    workflowType: 'parallelWorkflow',
    input: {
      specs: [spec('a'), spec('b', 'explore', 'do b again'), spec('c')],
      budget: { maxSteps: 2 },
      reuse: rerunOf(lent('a', 'explore', 'do a', 'do a'), lent('b', 'explore', 'do b', 'do b')),
    },
  },
  {
    // A rerun of a pipeline: item 0's first stage is reused, its second changed, so its third runs
    // again though its entry matches; item 1 reuses nothing.
    name: 'pipeline-rerun',
    workflowType: 'pipelineWorkflow',
    input: {
      items: [{ path: 'a.ts' }, { path: 'b.ts' }],
      stages: reviewStages,
      reuse: rerunOf(
        lent('explore-0', 'explore', 'a.ts', 'a.ts'),
        lent('review-0', 'review', 'old a.ts', 'approve old a.ts'),
        lent('verify-0', 'verify', 'approve a.ts', 'approve a.ts'),
      ),
    },
  },
  {
    // A rerun of a loop: round 1 is reused, round 2's entry no longer matches (its output changed), so
    // round 2 runs, and round 3 runs again though its entry matches.
    name: 'loop-rerun',
    workflowType: 'loopWorkflow',
    input: {
      ...reviewRounds,
      maxIterations: 3,
      reuse: rerunOf(
        lent('draft', 'explore', 'do draft', 'do draft'),
        lent('review-2', 'review', 'round 2: old draft', 'approve round 2: old draft'),
        lent(
          'review-3',
          'review',
          'round 3: approve round 2: do draft',
          'approve round 3: approve round 2: do draft',
        ),
      ),
    },
  },
  {
    // A resumable rerun: `a` is reused (and journaled to this run's checkpoint), `b` runs.
    name: 'resumable-rerun',
    workflowType: 'resumableParallelWorkflow',
    input: { specs: [spec('a'), spec('b')], reuse: rerunOf(lent('a', 'explore', 'do a', 'do a')) },
  },
  {
    // Every kind of step end: success, failure, crash, a retry; each step's summary names it.
    name: 'parallel',
    workflowType: 'parallelWorkflow',
    input: {
      specs: [spec('a'), spec('red'), spec('crash'), spec('flaky'), spec('b')],
      stepPolicy: quickRetry,
    },
  },
  { name: 'parallel-empty', workflowType: 'parallelWorkflow', input: { specs: [] } },
  {
    name: 'parallel-bad-input',
    workflowType: 'parallelWorkflow',
    input: { specs: [{ agent: 'explore', prompt: 'no task id' }] },
    fails: true,
  },
  {
    // Two steps with one task id would take each other's decisions: refused at input, naming both.
    name: 'parallel-duplicate-ids',
    workflowType: 'parallelWorkflow',
    input: { specs: [spec('a'), spec('b'), spec('a')] },
    fails: true,
  },
  {
    // The same from a pipeline's templates: both items render stage 0's id as "x".
    name: 'pipeline-duplicate-derived-ids',
    workflowType: 'pipelineWorkflow',
    input: { items: ['one', 'two'], stages: [{ taskId: 'x', agent: 'explore', prompt: '{{item}}' }] },
    fails: true,
  },
  {
    // Step specs refuse unknown fields: a misspelt maxSteps.
    name: 'parallel-unknown-field',
    workflowType: 'parallelWorkflow',
    input: { specs: [{ ...spec('a'), maxStep: 3 }] },
    fails: true,
  },
  {
    name: 'pipeline',
    workflowType: 'pipelineWorkflow',
    input: {
      items: [{ path: 'a.ts' }, { path: 'b.ts' }, { path: 'c.ts' }],
      stages: reviewStages,
      concurrency: 2,
    },
  },
  {
    name: 'pipeline-stage-functions',
    workflowType: 'reviewFilesWorkflow',
    input: [
      { path: 'ok.ts' },
      { path: 'bad.ts', throwAtStage: 1 },
      { path: 'skip.ts', skipFirstStage: true },
    ],
  },
  {
    name: 'resumable-first-run',
    workflowType: 'resumableParallelWorkflow',
    input: { checkpointId: 'history-resume', specs: resumableSpecs, stepPolicy: quickRetry },
  },
  {
    // Runs after the first: `a`, `flaky`, `b` come from the checkpoint, `red` runs again.
    name: 'resumable-resume',
    workflowType: 'resumableParallelWorkflow',
    input: { checkpointId: 'history-resume', specs: [...resumableSpecs, spec('c')], stepPolicy: quickRetry },
  },
  {
    name: 'parallel-partitioned',
    workflowType: 'parallelWorkflow',
    input: { specs: ['a', 'red', 'b', 'c', 'd'].map((id) => spec(id)), maxStepsPerRun: 2, concurrency: 3 },
  },
  {
    // A limit of 4 over children of 2: two children at a time, two steps each, not four children at one.
    name: 'parallel-partitioned-share',
    workflowType: 'parallelWorkflow',
    input: {
      specs: ['a', 'b', 'c', 'red', 'd', 'e', 'f', 'g'].map((id) => spec(id)),
      maxStepsPerRun: 2,
      concurrency: 4,
    },
  },
  {
    // A batch run: specs read from a JSONL source, outcomes kept by the activities (and by the workflow for the crashed one).
    name: 'batch',
    workflowType: 'batchWorkflow',
    input: { source: { jsonl: BATCH_SOURCE }, concurrency: 2 },
    seedStore: () => writeBatchSource(['a', 'red', 'b', 'crash', 'c']),
  },
  {
    // A budget of 2 steps at concurrency 1: `a` and `b` run, the other three are refused without running.
    name: 'batch-budget',
    workflowType: 'batchWorkflow',
    input: { source: { jsonl: BATCH_SOURCE }, concurrency: 1, budget: { maxSteps: 2 } },
    seedStore: () => writeBatchSource(['a', 'b', 'c', 'd', 'e']),
  },
  {
    // A limit of 120 is more than one execution keeps in flight: the source split into three ranges, a child each.
    name: 'batch-split',
    workflowType: 'batchWorkflow',
    input: { source: { jsonl: BATCH_SOURCE }, concurrency: 120 },
    seedStore: () => writeBatchSource(['a', 'b', 'red', 'c', 'd', 'e']),
  },
  {
    // A pipeline by reference: three items through the review stages, each stage rendering from the one before.
    name: 'batch-pipeline',
    workflowType: 'batchWorkflow',
    input: { source: { jsonl: BATCH_SOURCE }, stages: reviewStages, concurrency: 2 },
    seedStore: () =>
      writeFileSync(
        BATCH_SOURCE,
        ['a.ts', 'b.ts', 'c.ts'].map((path) => JSON.stringify({ path })).join('\n'),
      ),
  },
  {
    // Approvals in a batch run: `a` approved before it runs; `b` rejected after, its output held until then.
    name: 'batch-approvals',
    workflowType: 'batchWorkflow',
    input: { source: { jsonl: BATCH_SOURCE } },
    seedStore: () =>
      writeBatchSource([
        { ...spec('a'), approval: { before: true } },
        { ...spec('b'), approval: { after: true, timeoutMs: 86_400_000 } },
        'c',
      ]),
    drive: decide,
  },
  {
    // A rerun of a batch run: `a`, `b`, `d` and `e` take the old run's outcomes; `c` changed since, so it runs.
    name: 'batch-rerun',
    workflowType: 'batchWorkflow',
    input: { source: { jsonl: BATCH_SOURCE }, concurrency: 2, rerunOf: 'history-batch-old' },
    seedStore: async (storeDir) => {
      const ids = ['a', 'b', 'c', 'd', 'e'];
      writeBatchSource(ids);
      const old = new FileOutcomeStore(storeDir);
      for (const [seq, id] of ids.entries()) {
        const ran = AgentStepSpecSchema.parse(
          id === 'c' ? { ...spec(id), prompt: 'an older prompt' } : spec(id),
        );
        await old.put('history-batch-old', seq, {
          taskId: id,
          agent: ran.agent,
          sessionId: `old-${id}`,
          output: `old ${id}`,
          success: true,
          specDigest: specDigest(ran),
        });
      }
    },
  },
  {
    // A concurrency of 120 is more than one execution keeps in flight (50): three children of 34, 34 and 32 at 40 each.
    name: 'parallel-split-by-concurrency',
    workflowType: 'parallelWorkflow',
    input: { specs: Array.from({ length: 100 }, (_, i) => spec(`s${i}`)), concurrency: 120 },
  },
  {
    name: 'pipeline-partitioned',
    workflowType: 'pipelineWorkflow',
    input: {
      items: [{ path: 'a.ts' }, { path: 'b.ts' }, { path: 'c.ts' }],
      stages: reviewStages,
      maxStepsPerRun: 3,
    },
  },
  {
    // Bigger than maxStepsPerRun and no budget: child partitions side by side, journaling to one checkpoint.
    name: 'resumable-partitioned',
    workflowType: 'resumableParallelWorkflow',
    input: {
      checkpointId: 'history-windows',
      specs: ['a', 'red', 'b', 'c', 'd'].map((id) => spec(id)),
      maxStepsPerRun: 2,
    },
  },
  {
    // Partitioned, with `a` served from the checkpoint.
    name: 'resumable-partitioned-from-checkpoint',
    workflowType: 'resumableParallelWorkflow',
    input: {
      checkpointId: 'history-partitioned-from-checkpoint',
      specs: ['a', 'b', 'c', 'd'].map((id) => spec(id)),
      maxStepsPerRun: 2,
    },
    seedStore: (storeDir, checkpointId) => seedCheckpoint(storeDir, checkpointId, undefined),
  },
  {
    // `a` is served from the checkpoint: loaded by key first, its outcome once, to return it.
    name: 'resumable-from-checkpoint',
    workflowType: 'resumableParallelWorkflow',
    input: { checkpointId: 'history-from-checkpoint', specs: ['a', 'b'].map((id) => spec(id)) },
    seedStore: (storeDir, checkpointId) => seedCheckpoint(storeDir, checkpointId, undefined),
  },
  {
    name: 'resumable-unreadable-checkpoint',
    workflowType: 'resumableParallelWorkflow',
    input: { checkpointId: 'history-unreadable', specs: [spec('t1'), spec('t2')] },
    seedStore: seedFutureSchemaCheckpoint,
  },
  {
    name: 'resumable-refuse-unreadable',
    workflowType: 'resumableParallelWorkflow',
    input: {
      checkpointId: 'history-refuse',
      specs: [spec('t1'), spec('t2')],
      onUnreadableCheckpoint: 'fail',
    },
    seedStore: seedFutureSchemaCheckpoint,
  },
  {
    // Paused while `slow` runs, concurrency raised to 2, pending `c` cancelled, resumed.
    name: 'parallel-steered',
    workflowType: 'parallelWorkflow',
    input: { specs: [spec('slow'), spec('b'), spec('c'), spec('d')], concurrency: 1 },
    drive: steer,
  },
  {
    // Approvals: `a` waits to start and is approved, `b`'s outcome waits and is rejected, `c` runs freely.
    name: 'parallel-approvals',
    workflowType: 'parallelWorkflow',
    input: {
      specs: [
        { ...spec('a'), approval: { before: true } },
        { ...spec('b'), approval: { after: true, timeoutMs: 86_400_000 } },
        spec('c'),
      ],
    },
    drive: decide,
  },
  {
    // A budget of two steps: `c` and `d` never start and end "budget exhausted".
    name: 'parallel-budget',
    workflowType: 'parallelWorkflow',
    input: { specs: ['a', 'b', 'c', 'd'].map((id) => spec(id)), concurrency: 1, budget: { maxSteps: 2 } },
  },
  {
    // A budget that waits: `c` waits until it is raised, `d` is approved past it, `e` rejected.
    name: 'parallel-budget-wait',
    workflowType: 'parallelWorkflow',
    input: {
      specs: ['a', 'b', 'c', 'd', 'e'].map((id) => spec(id)),
      concurrency: 1,
      budget: { maxSteps: 2, onExhausted: 'wait' },
    },
    drive: decideOverBudget,
  },
  {
    // With a budget, a run bigger than maxStepsPerRun runs as windows in turn (continue-as-new),
    // carrying the budget's spend.
    name: 'resumable-budget-windows',
    workflowType: 'resumableParallelWorkflow',
    input: {
      checkpointId: 'history-budget',
      specs: ['a', 'b', 'c', 'd'].map((id) => spec(id)),
      maxStepsPerRun: 2,
      concurrency: 1,
      budget: { maxSteps: 3 },
    },
  },
  {
    // Rounds built from templates until `review-3` approves, two rounds per execution (continue-as-new).
    name: 'loop',
    workflowType: 'loopWorkflow',
    input: {
      ...reviewRounds,
      until: { some: { field: 'taskId', equals: 'review-3' } },
      maxIterations: 4,
      roundsPerRun: 2,
    },
  },
  {
    // A user's loop: `red` fails every round, so the cap ends it.
    name: 'loop-retry-failures',
    workflowType: 'retryFailuresWorkflow',
    input: { items: ['ok', 'red'], maxIterations: 3 },
  },
  {
    // `a` was checkpointed for another spec: it runs again, with a warning.
    name: 'resumable-stale-rerun',
    workflowType: 'resumableParallelWorkflow',
    input: { checkpointId: 'history-stale', specs: [spec('a'), spec('b')] },
    seedStore: seedStaleCheckpoint,
  },
  {
    name: 'resumable-stale-refuse',
    workflowType: 'resumableParallelWorkflow',
    input: { checkpointId: 'history-stale-refuse', specs: [spec('a'), spec('b')], onStaleCheckpoint: 'fail' },
    seedStore: seedStaleCheckpoint,
  },
];

/** While `slow` runs in the first child: pause the parent, raise its limit, resume; each reaches the children. */
async function steerPartitions(handle: WorkflowHandle): Promise<void> {
  for (;;) {
    const progress = await handle.query<Progress>('progress');
    if (progress.partitions?.every((partition) => partition.status === 'running')) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await pauseRun(handle);
  await setRunConcurrency(handle, 4);
  await resumeRun(handle);
}

SCENARIOS.push(
  {
    // Steering the parent signals its running children.
    name: 'parallel-partitioned-steered',
    workflowType: 'parallelWorkflow',
    input: { specs: ['slow', 'b', 'c', 'd'].map((id) => spec(id)), maxStepsPerRun: 2, concurrency: 2 },
    drive: steerPartitions,
  },
  {
    // `slow` is cancelled while it runs; `b` and `c` run after it in the same lane, in a fresh scope,
    // and are journaled.
    name: 'resumable-cancel-running',
    workflowType: 'resumableParallelWorkflow',
    input: {
      checkpointId: 'history-cancel-running',
      specs: ['slow', 'b', 'c'].map((id) => spec(id)),
      concurrency: 1,
    },
    drive: cancelWhileRunning('slow'),
  },
  {
    // A pipeline's first chain is cancelled in its first stage while it runs: the chain ends there, and
    // the next items run their chains in the same lane, in a fresh scope.
    name: 'pipeline-cancel-running',
    workflowType: 'pipelineWorkflow',
    input: {
      items: [{ path: 'slow' }, { path: 'b' }, { path: 'c' }],
      stages: [
        { taskId: '{{item.path}}', agent: 'explore', prompt: '{{item.path}}' },
        { taskId: '{{item.path}}-review', agent: 'review', prompt: '{{prev.output}}' },
      ],
      concurrency: 1,
    },
    drive: cancelWhileRunning('slow'),
  },
  {
    // `lead` delegates two tasks: they run as its children, then it goes on with their outcomes;
    // with a budget, each child counts.
    name: 'parallel-delegation',
    workflowType: 'parallelWorkflow',
    input: { specs: [{ ...spec('lead'), agent: 'lead' }, spec('b')], budget: { maxSteps: 10 } },
  },
  {
    // Two parents delegating at a limit of 2: their tasks share the run's two slots (patched, tao-run-slots).
    name: 'parallel-delegation-slots',
    workflowType: 'parallelWorkflow',
    input: {
      specs: [
        { ...spec('lead-a'), agent: 'lead' },
        { ...spec('lead-b'), agent: 'lead' },
      ],
      concurrency: 2,
    },
  },
  {
    // A step asks a question and waits, holding no slot (limit 1: b runs meanwhile); the answer resumes it.
    // asks-late is not answered: its wait times out and it goes on with the stated default.
    name: 'parallel-question',
    workflowType: 'parallelWorkflow',
    input: { specs: ['asks', 'b', 'asks-late'].map((id) => spec(id)), concurrency: 1 },
    drive: async (handle: WorkflowHandle) => {
      await untilWaiting(handle, 'asks');
      await answerStep(handle, 'asks', 'v2');
    },
  },
  {
    // Three steps ask about a tool call and wait, holding no slot (limit 1). edits-no is rejected with a
    // comment; edits is approved for the run with edited arguments, and edits-too, still waiting, goes on
    // under that grant. edits-late was running when the grant came: its call is decided again at once.
    name: 'parallel-tool-call',
    workflowType: 'parallelWorkflow',
    input: {
      specs: ['edits', 'edits-too', 'edits-no', 'edits-late'].map((id) => spec(id)),
      concurrency: 1,
    },
    drive: async (handle: WorkflowHandle) => {
      for (const id of ['edits', 'edits-too', 'edits-no']) await untilWaiting(handle, id);
      await rejectStep(handle, { taskId: 'edits-no', comment: 'not now' });
      await approveStep(handle, { taskId: 'edits', input: { command: 'rm -rf edits/tmp' }, forRun: true });
    },
  },
  {
    // Messages to a running step and to one not yet started (limit 1): the run takes both Updates.
    name: 'parallel-messages',
    workflowType: 'parallelWorkflow',
    input: { specs: ['slow', 'b'].map((id) => spec(id)), concurrency: 1 },
    messages: true,
    drive: async (handle: WorkflowHandle) => {
      await untilRunning(handle, 'slow');
      await sendMessage(handle, 'slow', 'also check the tests');
      await sendMessage(handle, 'b', 'in French, please');
    },
  },
  {
    // At a limit of 1 the first task runs while the second queues unbuilt; cancelStep withdraws it from the queue.
    name: 'parallel-delegation-cancel-queued',
    workflowType: 'parallelWorkflow',
    input: { specs: [{ ...spec('queued'), agent: 'lead' }], concurrency: 1 },
    drive: async (handle: WorkflowHandle) => {
      await untilRunning(handle, 'queued/task-1-1');
      await cancelStep(handle, 'queued/task-1-2');
    },
  },
  {
    // Delegation inside a pipeline stage, and a cancelled child: the parent hears "cancelled by user".
    name: 'pipeline-delegation-cancel-child',
    workflowType: 'pipelineWorkflow',
    input: {
      items: [{ path: 'x' }],
      stages: [
        { taskId: 'plan-{{item.path}}', agent: 'lead', prompt: 'plan' },
        { taskId: 'sum-{{item.path}}', agent: 'explore', prompt: '{{prev.output}}' },
      ],
    },
    drive: cancelWhileRunning('plan-x/task-1-2'),
  },
  {
    // A resumable run's `lead` delegates: `lead/task-1-1` is served from the checkpoint, which holds it
    // for the same spec; `lead/task-1-2` runs and is journaled.
    name: 'resumable-delegation',
    workflowType: 'resumableParallelWorkflow',
    input: { checkpointId: 'history-delegation', specs: [{ ...spec('lead'), agent: 'lead' }] },
    seedStore: (storeDir, checkpointId) =>
      seedCheckpoint(
        storeDir,
        checkpointId,
        specDigest({
          taskId: 'lead/task-1-1',
          agent: 'explore',
          description: 'read',
          prompt: 'read a.ts',
          parentSessionId: 'task-run-lead',
        }),
        'lead/task-1-1',
      ),
  },
  {
    // The items come from the plan step's structured output at run time.
    name: 'pipeline-plan',
    workflowType: 'pipelineWorkflow',
    input: {
      plan: { step: { taskId: 'plan', agent: 'plan', prompt: 'list files' }, forEach: 'structured.files' },
      stages: reviewStages,
    },
  },
  {
    // A partition of a resumable run: `a` is served from the shared checkpoint, which it leaves in place.
    name: 'resumable-partition-child',
    workflowType: 'resumableParallelWorkflow',
    input: {
      checkpointId: 'history-partition-child',
      specs: ['a', 'b'].map((id) => spec(id)),
      sharedCheckpoint: true,
    },
    seedStore: (storeDir, checkpointId) => seedCheckpoint(storeDir, checkpointId, undefined),
  },
);

export const historyFile = (name: string) => join(HISTORY_DIR, `${name}.json`);
/** Child ids derive from the workflow id, so replay must use the recorded one. */
export const scenarioWorkflowId = (name: string) => `history-${name}`;
