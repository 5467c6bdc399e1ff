/**
 * Every workflow type is startable by name with plain JSON from the real
 * Temporal CLI (src/workflows/index.ts promises this): no TAO client involved,
 * only the wire format. Workers run in-process on a fresh task queue.
 */
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { MemorySessionStore } from '../../src/stores/memory-store';
import type { Progress } from '../../src/workflows/lib';
import { GateExecutor, eventually } from '../support/gate-executor';
import { RecordingExecutor } from '../support/recording-executor';
import { echoed, spec } from '../support/specs';
import { temporalCli, temporalJson } from '../support/temporal-cli';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

/** The parts of `temporal workflow execute|result --output json` these tests read. */
interface CliResult<T> {
  status: string;
  result?: T;
  closeEvent: {
    workflowExecutionFailedEventAttributes?: {
      failure: { message: string; applicationFailureInfo?: { type: string; nonRetryable?: boolean } };
    };
  };
}

const startFlags = (type: string, taskQueue: string, workflowId: string, input: unknown) => [
  '--type',
  type,
  '--task-queue',
  taskQueue,
  '--workflow-id',
  workflowId,
  '--input',
  JSON.stringify(input),
];

/** `temporal workflow execute`: starts the workflow, blocks until it closes, prints how it closed. */
async function execute<T>(type: string, taskQueue: string, input: unknown, workflowId = uniqueId(type)) {
  const run = await temporalCli(['workflow', 'execute', ...startFlags(type, taskQueue, workflowId, input)]);
  // A failed workflow exits non-zero but still prints its close event; anything else unparsable is a real error.
  try {
    return { exitCode: run.code, workflowId, ...(JSON.parse(run.stdout) as CliResult<T>) };
  } catch {
    throw new Error(`temporal workflow execute exited ${run.code}: ${run.stderr.trim() || run.stdout}`);
  }
}

describe('workflows started from the Temporal CLI', () => {
  test('parallelWorkflow via `workflow execute`: outcomes in input order, not completion order', async () => {
    // Step a is held until b and c have finished, so it completes last.
    const gate = new GateExecutor(new ScriptExecutor(), (taskId) => taskId === 'a');
    const executor = new RecordingExecutor(gate);
    await withWorker({ executor }, async ({ taskQueue }) => {
      const running = execute<StepOutcome[]>('parallelWorkflow', taskQueue, {
        specs: [spec('a'), spec('b', 'review'), spec('c')],
        concurrency: 3,
      });
      await eventually(async () => (executor.succeeded.length === 2 ? true : undefined));
      gate.release('a');
      const run = await running;
      expect(run).toMatchObject({ exitCode: 0, status: 'COMPLETED' });
      expect(run.result).toEqual([echoed('a', 'do a'), echoed('b', 'do b', 'review'), echoed('c', 'do c')]);
      expect(executor.succeeded[2]).toBe('a');
    });
  });

  test('pipelineWorkflow via `workflow execute`: stage templates see {{item}} and {{prev.output}}', async () => {
    const executor = new RecordingExecutor(new ScriptExecutor());
    await withWorker({ executor }, async ({ taskQueue }) => {
      const run = await execute<(StepOutcome | null)[]>('pipelineWorkflow', taskQueue, {
        items: ['x', { path: 'y.ts' }],
        stages: [
          { taskId: 'explore-{{index}}', agent: 'explore', prompt: 'look at {{item}}' },
          { taskId: 'review-{{index}}', agent: 'review', prompt: 'review: {{prev.output}}' },
        ],
      });
      expect(run).toMatchObject({ exitCode: 0, status: 'COMPLETED' });
      // Object items render as JSON; stage 2's prompt is built from stage 1's output.
      expect(run.result).toEqual([
        echoed('review-0', 'review: look at x', 'review'),
        echoed('review-1', 'review: look at {"path":"y.ts"}', 'review'),
      ]);
      expect([...executor.started].sort()).toEqual(['explore-0', 'explore-1', 'review-0', 'review-1']);
    });
  });

  test('pipelineWorkflow via `workflow execute` with items a plan step decides at run time', async () => {
    const executor = new RecordingExecutor(
      new ScriptExecutor({ agents: { plan: { structured: { files: ['a.ts', 'b.ts'] } } } }),
    );
    await withWorker({ executor }, async ({ taskQueue }) => {
      const run = await execute<(StepOutcome | null)[]>('pipelineWorkflow', taskQueue, {
        plan: {
          step: { taskId: 'plan', agent: 'plan', prompt: 'list the files' },
          forEach: 'structured.files',
        },
        stages: [{ taskId: 'review-{{item}}', agent: 'review', prompt: 'review {{item}}' }],
      });
      expect(run).toMatchObject({ exitCode: 0, status: 'COMPLETED' });
      expect(run.result).toEqual([
        echoed('review-a.ts', 'review a.ts', 'review'),
        echoed('review-b.ts', 'review b.ts', 'review'),
      ]);
      expect(executor.started[0]).toBe('plan');
      expect([...executor.started].sort()).toEqual(['plan', 'review-a.ts', 'review-b.ts']);
    });
  });

  test('resumableParallelWorkflow via `workflow start`; `workflow query --name progress` shows the live board; `workflow result`', async () => {
    const store = new MemorySessionStore();
    const checkpointId = uniqueId('cli-cp');
    // Step b is held at a gate so the query catches the run mid-way, deterministically.
    const executor = new GateExecutor(new ScriptExecutor(), (taskId) => taskId === 'b');
    await withWorker({ executor, store }, async ({ taskQueue }) => {
      const workflowId = uniqueId('cli-resumable');
      const input = { checkpointId, specs: [spec('a'), spec('b'), spec('c')], concurrency: 3 };
      const started = await temporalJson<{ workflowId: string; type: string }>([
        'workflow',
        'start',
        ...startFlags('resumableParallelWorkflow', taskQueue, workflowId, input),
      ]);
      expect(started).toMatchObject({ workflowId, type: 'resumableParallelWorkflow' });

      const query = () =>
        temporalJson<{ queryResult: [Progress] }>([
          'workflow',
          'query',
          '-w',
          workflowId,
          '--name',
          'progress',
        ]);
      const midRun = await eventually(async () => {
        const [board] = (await query()).queryResult;
        return board.totals.succeeded === 2 ? board : undefined;
      });
      expect(midRun.steps.map((s) => [s.taskId, s.status])).toEqual([
        ['a', 'succeeded'],
        ['b', 'running'],
        ['c', 'succeeded'],
      ]);
      expect(midRun.totals).toMatchObject({ running: 1, succeeded: 2, all: 3 });

      executor.release('b');
      const done = await temporalJson<CliResult<StepOutcome[]>>(['workflow', 'result', '-w', workflowId]);
      expect(done.status).toBe('COMPLETED');
      expect(done.result).toEqual([echoed('a', 'do a'), echoed('b', 'do b'), echoed('c', 'do c')]);
      // A closed workflow still answers the query (the worker replays it): the final board.
      const [final] = (await query()).queryResult;
      expect(final.totals).toMatchObject({ succeeded: 3, all: 3 });
    });
    expect(await store.load(checkpointId)).toBeUndefined();
  });

  test.each([
    ['parallelWorkflow', { specs: [{ agent: 'explore', prompt: 'p' }] }, 'specs.0.taskId'],
    [
      'pipelineWorkflow',
      { items: ['x'], stages: [{ taskId: '{{#item}}', agent: 'explore', prompt: 'p' }] },
      'stages.0.taskId: bad template',
    ],
    ['resumableParallelWorkflow', { specs: [spec('a'), spec('a')] }, 'specs.1.taskId'],
  ])(
    '%s: bad input %j from the CLI fails at once, non-retryable, naming "%s"',
    async (type, input, field) => {
      const executor = new RecordingExecutor(new ScriptExecutor());
      await withWorker({ executor }, async ({ taskQueue }) => {
        const run = await execute<never>(type, taskQueue, input);
        expect(run.exitCode).not.toBe(0);
        expect(run.status).toBe('FAILED');
        expect(run.closeEvent.workflowExecutionFailedEventAttributes?.failure).toMatchObject({
          message: expect.stringContaining(field),
          applicationFailureInfo: { type: 'InvalidInput', nonRetryable: true },
        });
        const described = await temporalJson<{ workflowExecutionInfo: { status: string } }>([
          'workflow',
          'describe',
          '-w',
          run.workflowId,
        ]);
        expect(described.workflowExecutionInfo.status).toBe('WORKFLOW_EXECUTION_STATUS_FAILED');
        // Failed by its first workflow task, not an endless workflow-task retry; no step ran.
        const { events } = await temporalJson<{ events: { eventType: string }[] }>([
          'workflow',
          'show',
          '-w',
          run.workflowId,
        ]);
        const types = events.map((e) => e.eventType);
        expect(types.filter((t) => t === 'EVENT_TYPE_WORKFLOW_TASK_FAILED')).toHaveLength(0);
        expect(types.filter((t) => t === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED')).toHaveLength(1);
        expect(executor.started).toEqual([]);
      });
    },
  );
});
