/**
 * A parallel run by reference (issue #33): specs read from a JSONL source a
 * page at a time, outcomes put in the outcome store by the steps' activities,
 * a summary for the run's result. Real dev server, real file outcome store.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Payload, defaultPayloadConverter } from '@temporalio/common';
import { approveStep, pendingDecisions, rejectStep, rerunRun, results, resumeRun } from '../../src/client';
import type { RunSummary, StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { FileOutcomeStore } from '../../src/outcomes';
import { FileSessionStore } from '../../src/stores/file-store';
import { MAX_ACTIVITIES_IN_FLIGHT } from '../../src/workflows/lib/slots';
import { eventually } from '../support/gate-executor';
import { type HistoryEvent, everyExecution, peakActivitiesInFlight } from '../support/history';
import { RecordingExecutor } from '../support/recording-executor';
import { useTempDir } from '../support/temp-dir';
import { FileBlobStore } from '../../src/blobs/file';
import { tao } from '../support/cli';
import { closeDevClient, devServerAddress, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);
const tempDir = useTempDir('tao-by-reference');

/** `n` specs as JSONL, every seventh one failing, prompts of about 2 KB. */
function writeSource(n: number): string {
  const path = join(tempDir(), 'specs.jsonl');
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      taskId: `t${i}`,
      agent: i % 7 === 3 ? 'broken' : 'explore',
      prompt: `p${i} ${'x'.repeat(2_000)}`,
    }),
  );
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** The summary of a run of {@link writeSource}'s `n` specs: every seventh fails. */
function summaryOf(n: number, run: string): RunSummary {
  const failed = Array.from({ length: n }, (_, i) => i).filter((i) => i % 7 === 3);
  return {
    total: n,
    succeeded: n - failed.length,
    failed: failed.length,
    failedSteps: failed.slice(0, 100).map((i) => ({ seq: i, taskId: `t${i}` })),
    usage: { inputTokens: 0, outputTokens: 0, costUsd: 0 },
    outcomes: { run },
  };
}

/** The CLI's flags for the test's server, the worker's task queue and the blob store in `dir`. */
const serverFlags = (taskQueue: string, dir: string) => [
  '--address',
  devServerAddress(),
  '--task-queue',
  taskQueue,
  '--blobs',
  join(dir, 'blobs'),
];

const executor = () =>
  new RecordingExecutor(
    new ScriptExecutor({
      concurrency: 40,
      agents: { broken: { success: false, output: 'no' }, explore: { output: 'read {{taskId}}' } },
    }),
  );

test('a run of 1,200 specs from a JSONL file: a summary for its result, every outcome in the store, none in history', async () => {
  const recording = executor();
  const outcomes = new FileOutcomeStore(tempDir());
  const source = writeSource(1_200);
  await withWorker({ executor: recording, outcomes }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('batchWorkflow', {
      taskQueue,
      workflowId: uniqueId('by-reference'),
      args: [{ source: { jsonl: source }, concurrency: 40 }],
    });
    const summary: RunSummary = await handle.result();
    expect(summary).toEqual(summaryOf(1_200, handle.workflowId));
    expect(new Set(recording.started).size).toBe(1_200);
    expect(recording.started).toHaveLength(1_200);

    const kept: { seq: number; outcome: StepOutcome }[] = [];
    for await (const found of results(outcomes, handle.workflowId)) kept.push(found);
    expect(kept.map((k) => k.seq)).toEqual(Array.from({ length: 1_200 }, (_, i) => i));
    expect(kept[5]!.outcome).toMatchObject({ taskId: 't5', success: true, output: 'read t5' });
    expect(kept[3]!.outcome).toMatchObject({ taskId: 't3', success: false });

    // History holds neither the specs (a page at a time, then gone) nor the outputs (kept without them).
    for (const events of await everyExecution(client, handle.workflowId, handle.firstExecutionRunId)) {
      for (const event of events) {
        const payload = event.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
        const run =
          payload && defaultPayloadConverter.fromPayload<{ outcome?: StepOutcome }>(payload as Payload);
        if (run?.outcome) expect(run.outcome).toMatchObject({ output: '', kept: true });
      }
    }
  });
}, 120_000);

test('a source longer than one history holds: the run continues as new from its cursor, each step once, every outcome kept', async () => {
  const recording = executor();
  const outcomes = new FileOutcomeStore(tempDir());
  const source = writeSource(6_000);
  await withWorker({ executor: recording, outcomes }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('batchWorkflow', {
      taskQueue,
      workflowId: uniqueId('by-reference-long'),
      args: [{ source: { jsonl: source }, concurrency: 40 }],
    });
    const summary: RunSummary = await handle.result();
    expect(summary).toMatchObject({ total: 6_000, succeeded: 6_000 - 857, failed: 857 });
    expect(recording.started).toHaveLength(6_000);
    expect(new Set(recording.started).size).toBe(6_000);
    const executions = await everyExecution(client, handle.workflowId, handle.firstExecutionRunId);
    expect(executions.length).toBeGreaterThan(1);
    for (const events of executions) expect(events.length).toBeLessThan(20_000);
    let seen = 0;
    for await (const { seq } of results(outcomes, handle.workflowId)) expect(seq).toBe(seen++);
    expect(seen).toBe(6_000);
  });
}, 300_000);

test('a run at concurrency 120 splits its source into ranges, a child run each at 40: every outcome under the run, none held by the parent', async () => {
  const recording = executor();
  const outcomes = new FileOutcomeStore(tempDir());
  const source = writeSource(1_000);
  await withWorker({ executor: recording, outcomes }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('batchWorkflow', {
      taskQueue,
      workflowId: uniqueId('by-reference-split'),
      args: [{ source: { jsonl: source }, concurrency: 120 }],
    });
    const summary: RunSummary = await handle.result();
    expect(summary).toEqual(summaryOf(1_000, handle.workflowId));
    expect(recording.started).toHaveLength(1_000);
    expect(new Set(recording.started).size).toBe(1_000);
    let seen = 0;
    for await (const { seq, outcome } of results(outcomes, handle.workflowId)) {
      expect([seq, outcome.taskId]).toEqual([seen, `t${seen}`]);
      seen += 1;
    }
    expect(seen).toBe(1_000);

    const [parent, ...children] = await everyExecution(client, handle.workflowId, handle.firstExecutionRunId);
    // The parent holds three ranges and starts no activity but the split; each child keeps within one execution's cap.
    const activities = (events: HistoryEvent[]) =>
      events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    expect(activities(parent!)).toEqual(['splitItems']);
    expect(parent!.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)).toHaveLength(3);
    expect(children.length).toBeGreaterThanOrEqual(3); // a child may have continued as new
    // 40 steps, and now and then a page read or a put beside them.
    for (const events of children)
      expect(peakActivitiesInFlight(events)).toBeLessThanOrEqual(MAX_ACTIVITIES_IN_FLIGHT);

    // Started paused, a split run's children start paused too, and resuming the run resumes them.
    const paused = await client.workflow.start('batchWorkflow', {
      taskQueue,
      workflowId: uniqueId('by-reference-split-paused'),
      args: [{ source: { jsonl: source }, concurrency: 120, paused: true }],
    });
    recording.started.length = 0;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(recording.started).toHaveLength(0);
    await resumeRun(paused);
    expect(await paused.result()).toEqual(summaryOf(1_000, paused.workflowId));
    expect(recording.started).toHaveLength(1_000);

    // Its rerun splits the same way, each child taking the old run's outcomes for its range: only the failed run.
    recording.started.length = 0;
    const rerun = await rerunRun(client, handle.workflowId);
    const again: RunSummary = await rerun.handle.result();
    expect(again).toEqual({ ...summaryOf(1_000, rerun.handle.workflowId), reused: 1_000 - 143 });
    expect(recording.started).toHaveLength(143);
  });
}, 180_000);

test('a pipeline by reference: each item of the source runs its chain of stages, {{prev.output}} at hand, and its last outcome is kept', async () => {
  const dir = tempDir();
  const outcomes = new FileOutcomeStore(join(dir, 'store'));
  const blobs = new FileBlobStore(join(dir, 'blobs'));
  const items = join(dir, 'items.jsonl');
  writeFileSync(
    items,
    Array.from({ length: 600 }, (_, i) => JSON.stringify({ path: `src/f${i}.ts`, skip: i % 5 === 0 })).join(
      '\n',
    ),
  );
  const spec = join(dir, 'pipeline.yaml');
  writeFileSync(
    spec,
    JSON.stringify({
      workflow: 'batch',
      input: {
        concurrency: 30,
        stages: [
          {
            taskId: 'review-{{index}}',
            agent: 'explore',
            prompt: '{{#item.skip}}skip{{/item.skip}}{{^item.skip}}review {{item.path}}{{/item.skip}}',
          },
          // An item with `skip` ends its chain after the review: its outcome is the review's.
          {
            taskId: 'fix-{{index}}',
            agent: 'explore',
            prompt: 'fix after: {{prev.output}}',
            when: { field: 'prev.output', notEquals: 'skip' },
          },
        ],
      },
    }),
  );
  // The script echoes each prompt: a fix's output shows the review's output it was given.
  const echo = new RecordingExecutor(
    new ScriptExecutor({ concurrency: 30, default: { output: '{{{prompt}}}' } }),
  );
  await withWorker({ executor: echo, outcomes, blobs }, async ({ client, taskQueue }) => {
    const started = await tao(['start', spec, '--items', items, ...serverFlags(taskQueue, dir)]);
    expect(started).toMatchObject({ code: 0, stderr: '' });
    const summary: RunSummary = await client.workflow.getHandle(started.stdout.trim()).result();
    expect(summary).toMatchObject({ total: 600, succeeded: 600, failed: 0 });
    expect(echo.started).toHaveLength(600 + 480);
    const kept: { seq: number; outcome: StepOutcome }[] = [];
    for await (const found of results(outcomes, started.stdout.trim())) kept.push(found);
    expect(kept.map(({ seq }) => seq)).toEqual(Array.from({ length: 600 }, (_, i) => i));
    expect(kept[0]!.outcome).toMatchObject({ taskId: 'review-0', output: 'skip' });
    expect(kept[7]!.outcome).toMatchObject({ taskId: 'fix-7', output: 'fix after: review src/f7.ts' });
  });
}, 180_000);

test('a batch of cached specs run again takes every outcome from the step cache, and keeps each in the store like a run one', async () => {
  const dir = tempDir();
  const store = new FileSessionStore(join(dir, 'sessions'));
  const path = join(dir, 'cached.jsonl');
  writeFileSync(
    path,
    Array.from({ length: 60 }, (_, i) =>
      JSON.stringify({ taskId: `c${i}`, agent: 'explore', prompt: `p${i}`, cache: {} }),
    ).join('\n'),
  );
  const runOnce = async (outcomes: FileOutcomeStore) => {
    const recording = executor();
    return withWorker({ executor: recording, outcomes, store }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('batchWorkflow', {
        taskQueue,
        workflowId: uniqueId('by-reference-cache'),
        args: [{ source: { jsonl: path }, concurrency: 20 }],
      });
      const summary: RunSummary = await handle.result();
      const kept: StepOutcome[] = [];
      for await (const { outcome } of results(outcomes, handle.workflowId)) kept.push(outcome);
      return { summary, kept, ran: recording.started.length };
    });
  };
  const first = await runOnce(new FileOutcomeStore(join(dir, 'first')));
  expect(first).toMatchObject({ summary: { total: 60, succeeded: 60 }, ran: 60 });
  const again = await runOnce(new FileOutcomeStore(join(dir, 'again')));
  expect(again).toMatchObject({ summary: { total: 60, succeeded: 60 }, ran: 0 });
  expect(again.kept.map((outcome) => outcome.output)).toEqual(first.kept.map((outcome) => outcome.output));
}, 120_000);

test('a budget binds a batch run: steps past it fail without running, and are counted and kept like any outcome', async () => {
  const recording = executor();
  const outcomes = new FileOutcomeStore(tempDir());
  const source = writeSource(300);
  await withWorker({ executor: recording, outcomes }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('batchWorkflow', {
      taskQueue,
      workflowId: uniqueId('by-reference-budget'),
      args: [{ source: { jsonl: source }, concurrency: 40, budget: { maxSteps: 100 } }],
    });
    const summary: RunSummary = await handle.result();
    // Steps running when the budget ran out finish (./budget): at most the window's 39 others past the limit.
    const ran = recording.started.length;
    expect(ran).toBeGreaterThanOrEqual(100);
    expect(ran).toBeLessThan(140);
    expect(summary).toMatchObject({ total: 300, failed: 300 - summary.succeeded });
    const kept: StepOutcome[] = [];
    for await (const { outcome } of results(outcomes, handle.workflowId)) kept.push(outcome);
    expect(kept).toHaveLength(300);
    const refused = kept.filter((outcome) =>
      /^budget exhausted \(steps \d+\/100\)/.test(outcome.error ?? ''),
    );
    expect(refused).toHaveLength(300 - ran);
    expect(new Set(recording.started).size).toBe(ran);
  });
}, 120_000);

test('tao rerun --items: a batch rerun takes each unchanged succeeded step at its place from the old run, and runs edited and failed ones', async () => {
  const dir = tempDir();
  const recording = executor();
  const outcomes = new FileOutcomeStore(join(dir, 'store'));
  const blobs = new FileBlobStore(join(dir, 'blobs'));
  const source = writeSource(200);
  await withWorker({ executor: recording, outcomes, blobs }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('batchWorkflow', {
      taskQueue,
      workflowId: uniqueId('by-reference-rerun'),
      args: [{ source: { jsonl: source }, concurrency: 40 }],
    });
    const first: RunSummary = await handle.result();
    expect(first).toMatchObject({ total: 200, failed: 29 });
    recording.started.length = 0;

    const edited = join(dir, 'edited.jsonl');
    const lines = readFileSync(source, 'utf8').trim().split('\n');
    for (const at of [11, 20]) lines[at] = lines[at]!.replace(`"p${at} `, `"edited p${at} `);
    writeFileSync(edited, `${lines.join('\n')}\n`);
    const server = serverFlags(taskQueue, dir);
    const rerun = await tao(['rerun', handle.workflowId, '--items', edited, ...server]);
    expect(rerun.code).toBe(1); // the broken steps fail again
    const rerunId = /^started (\S+), a rerun of/m.exec(rerun.stderr)![1]!;
    expect(rerun.stderr).toContain('(171 outcomes it may reuse)');

    const failedIds = Array.from({ length: 200 }, (_, i) => i)
      .filter((i) => i % 7 === 3)
      .map((i) => `t${i}`);
    expect(new Set(recording.started)).toEqual(new Set(['t11', 't20', ...failedIds]));
    expect(recording.started).toHaveLength(2 + failedIds.length);
    const summary: RunSummary = await client.workflow.getHandle(rerunId).result();
    expect(summary).toMatchObject({ total: 200, succeeded: 171, reused: 169, failed: 29 });
    const result = await tao(['result', rerunId, '--address', devServerAddress()]);
    expect(result.stdout).toContain('200 steps: 171 succeeded (169 reused), 29 failed');

    // Every outcome is the rerun's own to read, reused ones too; the old run's are untouched.
    const kept: { seq: number; outcome: StepOutcome }[] = [];
    for await (const found of results(outcomes, rerunId)) kept.push(found);
    expect(kept.map(({ seq }) => seq)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(kept[5]!.outcome).toMatchObject({ taskId: 't5', success: true, output: 'read t5' });
    const old: number[] = [];
    for await (const { seq } of results(outcomes, handle.workflowId)) old.push(seq);
    expect(old).toHaveLength(200);

    // A batch run's specs are in its items: --set is refused, saying what to do.
    const set = await tao(['rerun', handle.workflowId, '--set', 't1.prompt=x', ...server]);
    expect(set.code).toBe(2);
    expect(set.stderr).toContain(
      'is a batch run, whose specs are in its items: edit the JSONL file and give it with --items',
    );
  });
}, 180_000);

test('a step with approval.after waits in a batch run with its output at hand; what the person decided is kept', async () => {
  const outcomes = new FileOutcomeStore(tempDir());
  const path = join(tempDir(), 'after.jsonl');
  const specs = [
    { taskId: 'plain', agent: 'explore', prompt: 'p' },
    { taskId: 'checked', agent: 'explore', prompt: 'q', approval: { after: true } },
    { taskId: 'refused', agent: 'explore', prompt: 'r', approval: { after: true } },
  ];
  writeFileSync(path, specs.map((spec) => JSON.stringify(spec)).join('\n'));
  await withWorker({ executor: executor(), outcomes }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('batchWorkflow', {
      taskQueue,
      workflowId: uniqueId('by-reference-after'),
      args: [{ source: { jsonl: path } }],
    });
    const waiting = async () =>
      (await pendingDecisions(client, { query: `WorkflowId = "${handle.workflowId}"`, withText: true }))
        .pending;
    const asked = await eventually(async () => {
      const found = await waiting();
      return found.length === 2 ? found : undefined;
    });
    expect(asked.map(({ taskId, decision, text }) => [taskId, decision, text])).toEqual([
      ['checked', 'after', 'read checked'],
      ['refused', 'after', 'read refused'],
    ]);
    await approveStep(handle, { taskId: 'checked', output: 'read checked, and approved' });
    await rejectStep(handle, { taskId: 'refused', comment: 'not this' });
    const summary: RunSummary = await handle.result();
    expect(summary).toMatchObject({ total: 3, failed: 1, failedSteps: [{ seq: 2, taskId: 'refused' }] });
    const kept = [];
    for await (const found of results(outcomes, handle.workflowId)) kept.push(found);
    expect(kept.map(({ seq, outcome }) => [seq, outcome.success, outcome.output])).toEqual([
      [0, true, 'read plain'],
      [1, true, 'read checked, and approved'],
      [2, false, expect.any(String)],
    ]);
    expect(kept[2]!.outcome.error).toContain('not this');
  });
}, 60_000);

test('a source that is not there fails the run at once, naming the file', async () => {
  await withWorker(
    { executor: executor(), outcomes: new FileOutcomeStore(tempDir()) },
    async ({ client, taskQueue }) => {
      const missing = join(tempDir(), 'nothing.jsonl');
      const handle = await client.workflow.start('batchWorkflow', {
        taskQueue,
        workflowId: uniqueId('by-reference-missing'),
        args: [{ source: { jsonl: missing } }],
      });
      await expect(handle.result()).rejects.toThrow();
      const { events } = await handle.fetchHistory();
      const failure = events!.find(
        (e) => e.activityTaskFailedEventAttributes,
      )?.activityTaskFailedEventAttributes;
      expect(failure?.failure?.message).toContain(missing);
    },
  );
});

test('tao start --items uploads a JSONL file and starts a batch run; tao result prints its summary, tao results its outcomes', async () => {
  const dir = tempDir();
  const blobs = new FileBlobStore(join(dir, 'blobs'));
  const outcomes = new FileOutcomeStore(join(dir, 'store'));
  const source = writeSource(30);
  await withWorker({ executor: executor(), outcomes, blobs }, async ({ client, taskQueue }) => {
    const server = serverFlags(taskQueue, dir);
    const started = await tao(['start', '--items', source, ...server]);
    expect(started).toMatchObject({ code: 0, stderr: '' });
    const workflowId = started.stdout.trim();
    const summary: RunSummary = await client.workflow.getHandle(workflowId).result();
    expect(summary).toMatchObject({ total: 30, succeeded: 26, failed: 4 });

    const result = await tao(['result', workflowId, '--address', devServerAddress()]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('30 steps: 26 succeeded, 4 failed (t3, t10, t17, t24)');
    expect(result.stdout).toContain(`outcomes: tao results ${workflowId}`);
    const listed = await tao([
      'results',
      workflowId,
      '--failed',
      '--jsonl',
      '--store',
      `file:${join(dir, 'store')}`,
    ]);
    expect(
      listed.stdout
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { seq: number }).seq),
    ).toEqual([3, 10, 17, 24]);
  });
  // A spec file gives the run's options, --items its items; a spec that names its own source is refused.
  const spec = join(dir, 'batch.yaml');
  writeFileSync(spec, 'workflow: batch\ninput: { concurrency: 5, budget: { maxSteps: 10 } }\n');
  await withWorker({ executor: executor(), outcomes, blobs }, async ({ client, taskQueue }) => {
    const server = serverFlags(taskQueue, dir);
    const started = await tao(['start', spec, '--items', source, ...server]);
    expect(started).toMatchObject({ code: 0, stderr: '' });
    const summary: RunSummary = await client.workflow.getHandle(started.stdout.trim()).result();
    expect(summary.total).toBe(30);
    expect(summary.succeeded).toBeLessThan(15); // 10 within the budget, and at most 4 others then running
    writeFileSync(spec, `workflow: batch\ninput: { source: { jsonl: ${source} } }\n`);
    const both = await tao(['start', spec, '--items', source, ...server]);
    expect(both).toMatchObject({ code: 2, stdout: '' });
    expect(both.stderr.trim()).toBe(
      `tao: ${spec}: input.source and --items both name the run's items; drop one`,
    );
  });
  const startItems = () =>
    tao(['start', '--items', source, '--address', devServerAddress(), '--blobs', join(dir, 'blobs')]);
  // A bad line starts nothing: one line naming the file and the line.
  writeFileSync(source, '{"taskId":"a","agent":"explore","prompt":"x"}\nnot json\n');
  const refused = await startItems();
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain(`${source} line 2: not JSON`);
  // Two steps with one task id: steering and decisions could not tell them apart.
  writeFileSync(
    source,
    ['a', 'b', 'a'].map((taskId) => JSON.stringify({ taskId, agent: 'explore', prompt: 'x' })).join('\n'),
  );
  const repeated = await startItems();
  expect(repeated.code).toBe(2);
  expect(repeated.stderr.trim()).toBe(
    `tao: ${source} line 3: task id "a" repeats line 1's; give each item its own`,
  );
});
