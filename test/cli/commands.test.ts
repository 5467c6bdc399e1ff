/**
 * The `tao` client commands as a user runs them: a real child process against
 * the run's dev server, with a TAO worker polling in this process.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { FileSessionStore } from '../../src/stores/file-store';
import type { Progress } from '../../src/workflows/lib';
import { tao } from '../support/cli';
import { GateExecutor, eventually } from '../support/gate-executor';
import { echoed } from '../support/specs';
import { closeDevClient, devServerAddress, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const dir = mkdtempSync(join(tmpdir(), 'tao-cli-commands-'));

function specFile(spec: unknown): string {
  const file = join(dir, `${uniqueId('spec')}.json`);
  writeFileSync(file, JSON.stringify(spec));
  return file;
}

const server = () => ['--address', devServerAddress()];
const json = <T>(text: string): T => JSON.parse(text) as T;
const step = (taskId: string, agent = 'explore') => ({ taskId, agent, prompt: `do ${taskId}` });
// Short heartbeats so a cancelled step hears about it at once.
const stepPolicy = { heartbeatTimeoutMs: 1_000 };

describe('tao run', () => {
  test('--json prints the outcomes in input order; a failed step means exit 1', async () => {
    const executor = new ScriptExecutor({ tasks: { b: { success: false, output: 'lint errors' } } });
    await withWorker({ executor }, async ({ taskQueue }) => {
      const file = specFile({ workflow: 'parallel', input: { specs: [step('a'), step('b'), step('c')] } });
      const run = await tao(['run', file, '--json', ...server(), '--task-queue', taskQueue]);
      expect(run.code).toBe(1);
      expect(json<StepOutcome[]>(run.stdout)).toEqual([
        echoed('a', 'do a'),
        { ...echoed('b', 'lint errors'), success: false, error: 'lint errors' },
        echoed('c', 'do c'),
      ]);
      expect(run.stderr).toMatch(/started parallel-\S+ \(parallelWorkflow\) on task queue/);
      expect(run.stderr).toContain('3/3 steps · 2 succeeded · 1 failed');
    });
  });

  test('a pipeline spec prints a results table; a chain its `when` ended is still ok', async () => {
    const executor = new ScriptExecutor({
      agents: { review: { structured: { verdict: 'approve' }, output: 'fine' } },
      tasks: { 'review:b.ts': { structured: { verdict: 'reject' }, output: 'split it' } },
    });
    await withWorker({ executor }, async ({ taskQueue }) => {
      const file = specFile({
        workflow: 'pipeline',
        taskQueue,
        input: {
          items: [{ path: 'a.ts' }, { path: 'b.ts' }],
          stages: [
            { taskId: 'review:{{item.path}}', agent: 'review', prompt: 'review {{item.path}}' },
            {
              taskId: 'verify:{{item.path}}',
              agent: 'verify',
              prompt: 'verify {{prev.output}}',
              when: { field: 'prev.structured.verdict', equals: 'approve' },
            },
          ],
        },
      });
      // No --task-queue: the spec file names it.
      const run = await tao(['run', file, ...server()]);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/│ 0 │ verify:a\.ts +│ verify +│ ok +│ verify fine +│/);
      expect(run.stdout).toMatch(/│ 1 │ review:b\.ts +│ review +│ ok +│ split it +│/);
      expect(run.stdout.trim().split('\n').pop()).toBe('2 ok');
      expect(run.stderr).toContain('4/4 steps · 3 succeeded · 1 skipped');
    });
  });
});

describe('tao start, status, result, cancel', () => {
  test('start prints the id; status shows live progress; result waits for the end', async () => {
    const executor = new GateExecutor(new ScriptExecutor(), (taskId) => taskId === 'slow');
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const workflowId = uniqueId('cli-start');
      const file = specFile({ workflow: 'parallel', input: { specs: [step('quick'), step('slow')] } });
      const started = await tao(['start', file, '--id', workflowId, ...server(), '--task-queue', taskQueue]);
      expect(started).toMatchObject({ code: 0, stdout: `${workflowId}\n` });

      const handle = client.workflow.getHandle(workflowId);
      await eventually(async () => {
        const progress = await handle.query<Progress>('progress');
        return progress.totals.succeeded === 1 && progress.totals.running === 1 ? true : undefined;
      });
      const status = await tao(['status', workflowId, '--json', ...server()]);
      expect(status.code).toBe(0);
      expect(json(status.stdout)).toMatchObject({
        workflowId,
        type: 'parallelWorkflow',
        status: 'RUNNING',
        taskQueue,
        progress: { totals: { succeeded: 1, running: 1, all: 2 } },
      });
      const table = await tao(['status', workflowId, ...server()]);
      expect(table.stdout).toMatch(/^status +RUNNING$/m);
      expect(table.stdout).toMatch(/^progress +\[█+░+\] 1\/2 steps · 1 running · 1 succeeded$/m);
      expect(table.stdout).toMatch(/│ slow +│ slow +│ explore +│ running +│/);

      const result = tao(['result', workflowId, '--json', ...server()]);
      executor.release('slow');
      const finished = await result;
      expect(finished.code).toBe(0);
      expect(json(finished.stdout)).toEqual([echoed('quick', 'do quick'), echoed('slow', 'do slow')]);
    });
  });

  test('cancel stops a running workflow; result then reports it in one line, exit 1', async () => {
    const executor = new GateExecutor(new ScriptExecutor(), () => true);
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const workflowId = uniqueId('cli-cancel');
      const file = specFile({ workflow: 'parallel', input: { specs: [step('held')], stepPolicy } });
      await tao(['start', file, '--id', workflowId, ...server(), '--task-queue', taskQueue]);
      const handle = client.workflow.getHandle(workflowId);
      await eventually(async () =>
        (await handle.query<Progress>('progress')).totals.running === 1 ? true : undefined,
      );

      const cancel = await tao(['cancel', workflowId, ...server()]);
      expect(cancel).toMatchObject({ code: 0, stdout: `cancellation requested for ${workflowId}\n` });
      const result = await tao(['result', workflowId, ...server()]);
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split('\n').pop()).toMatch(
        new RegExp(`^tao: ${workflowId}: workflow execution cancelled`),
      );
      expect((await handle.describe()).status.name).toBe('CANCELLED');

      const again = await tao(['cancel', workflowId, ...server()]);
      expect(again.code).toBe(1);
      expect(again.stderr).toBe(`tao: ${workflowId} is CANCELLED, not running; nothing to cancel\n`);
    });
  });

  test('pending lists waiting steps; approve (with an edited output) and reject decide them', async () => {
    const executor = new ScriptExecutor();
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const workflowId = uniqueId('cli-approve');
      const specs = [
        { ...step('draft'), approval: { after: true } },
        { ...step('publish'), approval: { before: true } },
      ];
      const file = specFile({ workflow: 'parallel', input: { specs, stepPolicy } });
      await tao(['start', file, '--id', workflowId, ...server(), '--task-queue', taskQueue]);
      const listed = await eventually(async () => {
        const run = await tao(['pending', '--json', ...server()]);
        const { pending } = json(run.stdout) as { pending: { workflowId: string }[] };
        const mine = pending.filter((p) => p.workflowId === workflowId);
        return mine.length === 2 ? mine : undefined;
      });
      expect(listed).toEqual([
        { workflowId, taskId: 'draft', agent: 'explore', decision: 'after' },
        { workflowId, taskId: 'publish', agent: 'explore', decision: 'before' },
      ]);
      const table = await tao(['pending', ...server()]);
      // What is to be decided, under each: the output it ran to, the prompt it would start with.
      expect(table.stdout).toContain(
        `${workflowId}  draft  (explore)  waiting on its outcome\n    do draft\n`,
      );
      expect(table.stdout).toContain(`${workflowId}  publish  (explore)  waiting to start\n    do publish\n`);
      const shown = json((await tao(['pending', '--show', '--json', ...server()])).stdout) as {
        pending: { workflowId: string; text?: string }[];
      };
      expect(shown.pending.filter((p) => p.workflowId === workflowId).map((p) => p.text)).toEqual([
        'do draft',
        'do publish',
      ]);

      const edited = join(dir, 'edited.txt');
      writeFileSync(edited, 'the edited draft');
      expect(await tao(['approve', workflowId, 'draft', '--output-file', edited, ...server()])).toMatchObject(
        {
          code: 0,
          stdout: `approved step draft of ${workflowId}\n`,
        },
      );
      const missing = await tao([
        'approve',
        workflowId,
        'publish',
        '--output-file',
        join(dir, 'nope'),
        ...server(),
      ]);
      expect(missing).toMatchObject({
        code: 2,
        stderr: expect.stringMatching(/--output-file .*nope \(ENOENT\)/),
      });
      expect(
        await tao(['reject', workflowId, 'publish', '--comment', 'too early', ...server()]),
      ).toMatchObject({
        code: 0,
        stdout: `rejected step publish of ${workflowId}\n`,
      });
      const again = await tao(['reject', workflowId, 'publish', ...server()]);
      expect(again.code).toBe(1);
      const outcomes: StepOutcome[] = await client.workflow.getHandle(workflowId).result();
      expect(outcomes.map((o) => [o.taskId, o.success, o.output])).toEqual([
        ['draft', true, 'the edited draft'],
        ['publish', false, 'rejected before it started: too early'],
      ]);
    });
  });

  test('pending cuts a long, many-line prompt to its first line’s first 100 characters; --show prints it whole', async () => {
    const executor = new ScriptExecutor();
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const workflowId = uniqueId('cli-pending-long');
      const first = `review ${'the whole migration plan, '.repeat(8)}end`;
      const prompt = `${first}\nstep two: check the indexes\n\nstep three: ship it`;
      const specs = [{ ...step('long'), prompt, approval: { before: true } }];
      const file = specFile({ workflow: 'parallel', input: { specs, stepPolicy } });
      await tao(['start', file, '--id', workflowId, ...server(), '--task-queue', taskQueue]);
      const mine = ['--query', `WorkflowId = "${workflowId}"`, ...server()];
      const table = await eventually(async () => {
        const run = await tao(['pending', ...mine]);
        return run.stdout.includes('waiting to start') ? run.stdout : undefined;
      });
      expect(first.length).toBeGreaterThan(100);
      expect(table).toBe(
        `${workflowId}  long  (explore)  waiting to start\n    ${first.slice(0, 100)}… (--show for all)\n`,
      );
      expect((await tao(['pending', '--show', ...mine])).stdout).toBe(
        `${workflowId}  long  (explore)  waiting to start\n    ${first}\n    step two: check the indexes\n    \n    step three: ship it\n`,
      );
      await tao(['reject', workflowId, 'long', ...server()]);
      await client.workflow.getHandle(workflowId).result();
    });
  });

  test('status shows spend against the budget; budget changes it', async () => {
    const executor = new GateExecutor(new ScriptExecutor(), (taskId) => taskId === 'second');
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const workflowId = uniqueId('cli-budget');
      const input = {
        specs: [step('first'), step('second')],
        concurrency: 1,
        budget: { maxSteps: 4 },
        stepPolicy,
      };
      await tao([
        'start',
        specFile({ workflow: 'parallel', input }),
        '--id',
        workflowId,
        ...server(),
        '--task-queue',
        taskQueue,
      ]);
      const handle = client.workflow.getHandle(workflowId);
      await eventually(async () =>
        (await handle.query<Progress>('progress')).totals.succeeded === 1 ? true : undefined,
      );
      expect((await tao(['status', workflowId, ...server()])).stdout).toMatch(/^budget +steps 1\/4$/m);
      expect(await tao(['budget', workflowId, '--max-steps', '9', ...server()])).toMatchObject({
        code: 0,
        stdout: `${workflowId} budget now steps 1/9\n`,
      });
      expect(await tao(['budget', workflowId, '--max-steps', 'lots', ...server()])).toMatchObject({
        code: 2,
        stderr: 'tao: budget: maxSteps: Expected number, received nan\n',
      });
      executor.release('second');
      await handle.result();
    });
  });

  test('pause, concurrency, resume and cancel --step steer a running workflow; status shows it', async () => {
    const executor = new GateExecutor(new ScriptExecutor(), () => true);
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const workflowId = uniqueId('cli-steer');
      const specs = [step('first'), step('second'), step('third')];
      const file = specFile({ workflow: 'parallel', input: { specs, concurrency: 1, stepPolicy } });
      await tao(['start', file, '--id', workflowId, ...server(), '--task-queue', taskQueue]);
      const handle = client.workflow.getHandle(workflowId);
      await eventually(async () =>
        (await handle.query<Progress>('progress')).totals.running === 1 ? true : undefined,
      );

      expect(await tao(['pause', workflowId, ...server()])).toMatchObject({
        code: 0,
        stdout: `paused ${workflowId}: no new step starts until \`tao resume ${workflowId}\`\n`,
      });
      expect(await tao(['concurrency', workflowId, '2', ...server()])).toMatchObject({
        code: 0,
        stdout: `${workflowId} now runs at most 2 at once\n`,
      });
      const status = await tao(['status', workflowId, ...server()]);
      expect(status.stdout).toMatch(
        /^steering +paused: no new step starts until resumed · concurrency set to 2$/m,
      );
      expect(await tao(['cancel', workflowId, '--step', 'third', ...server()])).toMatchObject({
        code: 0,
        stdout: `step third of ${workflowId} will not start\n`,
      });
      expect(await tao(['concurrency', workflowId, 'many', ...server()])).toMatchObject({
        code: 2, // a usage error, like a wrong flag
        stderr: 'tao: concurrency limit must be a whole number ≥ 1, got "many"\n',
      });
      const unknown = await tao(['cancel', workflowId, '--step', 'nope', ...server()]);
      expect(unknown).toMatchObject({ code: 1, stderr: `tao: ${workflowId}: no step "nope" in this run\n` });
      expect(await tao(['resume', workflowId, ...server()])).toMatchObject({
        code: 0,
        stdout: `resumed ${workflowId}\n`,
      });
      executor.release('first');
      executor.release('second');
      const outcomes: StepOutcome[] = await handle.result();
      expect(outcomes.map((o) => [o.taskId, o.output])).toEqual([
        ['first', 'do first'],
        ['second', 'do second'],
        ['third', 'cancelled by user'],
      ]);
    });
  });
});

test('a resumable run split into child workflows: status counts their steps, pause and cancel --step reach them', async () => {
  const executor = new GateExecutor(new ScriptExecutor(), (taskId) => taskId === 'b' || taskId === 'd');
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const workflowId = uniqueId('cli-split');
    const specs = ['a', 'b', 'c', 'd'].map((id) => step(id));
    const file = specFile({
      workflow: 'resumable',
      input: { specs, maxStepsPerRun: 2, concurrency: 2, stepPolicy },
    });
    await tao(['start', file, '--id', workflowId, ...server(), '--task-queue', taskQueue]);
    const handle = client.workflow.getHandle(workflowId);
    // Partitions [a, b] and [c, d], a step at a time: a and c finish, b and d hold.
    const status = await eventually(async () => {
      const shown = await tao(['status', workflowId, ...server()]);
      return /2 running/.test(shown.stdout) ? shown : undefined;
    });
    expect(status.stdout).toMatch(
      /^progress +\[█+░+\] 2\/4 steps · 2 running · 2 succeeded · 0\/2 child runs done$/m,
    );
    expect(await tao(['pause', workflowId, ...server()])).toMatchObject({ code: 0 });
    const partitions = (await handle.query<Progress>('progress')).partitions!;
    await eventually(async () => {
      const states = await Promise.all(
        partitions.map((p) => client.workflow.getHandle(p.workflowId).query<Progress>('progress')),
      );
      return states.every((state) => state.paused) ? true : undefined;
    });
    expect(await tao(['cancel', workflowId, '--step', 'd', ...server()])).toMatchObject({
      code: 0,
      stdout: `cancelling step d of ${workflowId}: its agent is being stopped\n`,
    });
    expect(await tao(['resume', workflowId, ...server()])).toMatchObject({ code: 0 });
    executor.release('b');
    const outcomes: StepOutcome[] = await handle.result();
    expect(outcomes.map((o) => [o.taskId, o.output])).toEqual([
      ['a', 'do a'],
      ['b', 'do b'],
      ['c', 'do c'],
      ['d', 'cancelled by user'],
    ]);
    const done = await tao(['status', workflowId, ...server()]);
    expect(done.stdout).toMatch(
      /^progress +\[█+\] 4\/4 steps · 3 succeeded · 1 failed · 2\/2 child runs done$/m,
    );
  });
});

describe('tao checkpoint', () => {
  test('list, show and rm over a file store, including a checkpoint a resumable run kept', async () => {
    const storeDir = join(dir, uniqueId('store'));
    const store = new FileSessionStore(storeDir);
    const executor = new ScriptExecutor({ tasks: { flaky: { success: false, output: 'timed out' } } });
    await withWorker({ executor, store }, async ({ taskQueue }) => {
      const file = specFile({
        workflow: 'resumable',
        input: { checkpointId: 'nightly', specs: [step('one'), step('flaky'), step('two')] },
      });
      const run = await tao(['run', file, ...server(), '--task-queue', taskQueue]);
      expect(run.code).toBe(1);
    });
    // Something unreadable in the legacy layout next to it: listed with the reason, and removable.
    await mkdir(store.legacyFolder, { recursive: true });
    writeFileSync(join(store.legacyFolder, 'broken.json'), '{ not json');
    const ref = ['--store', `file:${storeDir}`];

    const list = await tao(['checkpoint', 'list', '--json', ...ref]);
    expect(json(list.stdout)).toEqual([
      { checkpointId: 'broken', steps: 0, checkpointMs: 0, unreadable: expect.stringContaining('not JSON') },
      { checkpointId: 'nightly', steps: 2, checkpointMs: expect.any(Number) },
    ]);
    const show = await tao(['checkpoint', 'show', 'nightly', ...ref]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^steps +2$/m);
    expect(show.stdout).toMatch(/│ one +│ explore +│ ok +│ do one +│/);
    expect(show.stdout).not.toContain('flaky');

    expect(await tao(['checkpoint', 'rm', 'nightly', ...ref])).toMatchObject({
      code: 0,
      stdout: 'removed checkpoint nightly\n',
    });
    expect(await store.load('nightly')).toBeUndefined();
    expect(await tao(['checkpoint', 'rm', 'broken', ...ref])).toMatchObject({ code: 0 });
    expect(json((await tao(['checkpoint', 'list', '--json', ...ref])).stdout)).toEqual([]);

    const missing = await tao(['checkpoint', 'show', 'nightly', ...ref]);
    expect(missing).toMatchObject({ code: 1, stderr: `tao: no checkpoint nightly in file:${storeDir}\n` });
  });
});

describe('delegation in the terminal', () => {
  test('tao run lists the delegated tasks under their parent; tao status shows the tree', async () => {
    const executor = await ScriptExecutor.fromFile(join(__dirname, '../../examples/script.yaml'));
    await withWorker({ executor }, async ({ taskQueue }) => {
      const file = join(__dirname, '../../examples/delegate.yaml');
      const id = uniqueId('delegate');
      const run = await tao(['run', file, '--id', id, ...server(), '--task-queue', taskQueue]);
      expect(run.stderr).toContain('4/4 steps · 4 succeeded');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('summary of 3 tasks:');
      expect(run.stdout).toMatch(
        /delegated tasks:\n[\s\S]*lead-review\/task-1-3 +│ lead-review +│ review +│ succeeded/,
      );
      const status = await tao(['status', id, ...server()]);
      expect(status.stdout).toMatch(/│ parent +│/);
      expect(status.stdout).toMatch(/ {2}lead-review\/task-1-1 +│ lead-review +│ explore/);
    });
  });
});
