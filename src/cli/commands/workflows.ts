/**
 * Commands on one workflow by id: `start`, `status`, `result`, `cancel`; steering: `pause`, `resume`,
 * `concurrency`; decisions: `approve`, `reject`, and `pending` across runs.
 */
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { openBlobStore } from '../../blobs';
import type { AgentStepSpec, ItemSource } from '../../contracts';
import { ITEM_SCHEMAS, type ItemKind, uploadItems } from '../../items';
import { type WorkerConfig, resolveWorkerConfig } from '../../config/worker-config';
import { clientFromFlags, connectionOptions, jsonOption, runTaskQueue, startOptions } from '../options';
import { budgetLine, progressLine, steeringLine } from '../../client/progress-line';
import { fields, stepsTable } from '../render';
import { explainWorkflowError, reportResult } from '../report';
import {
  answerStep,
  approveStep,
  cancelStep,
  fetchRunProgress,
  pendingDecisions,
  RERUN_OF_MEMO,
  rejectStep,
  loadSourcelessBatchSpec,
  loadSpecFile,
  type RunSpec,
  pauseRun,
  resumeRun,
  runningSteps,
  sendMessage,
  setRunBudget,
  setRunConcurrency,
  startRun,
  textHead,
  watchRun,
  type WaitingToolCall,
} from '../../client';
import { readFile } from 'node:fs/promises';
import { InputError } from '../../config/data-file';
import { BudgetSchema, describeZodError } from '../../contracts';
import { lastLine } from '../../client/running';

async function readFlagFile(flag: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read ${flag} ${path} (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
}

/** The words after the step, or the file's text: one of them, not empty. */
async function textOrFile(words: string[], file: string | undefined, what: string): Promise<string> {
  if (words.length > 0 && file !== undefined)
    throw new InputError(`give the ${what} as text or with --file, not both`);
  const text = file === undefined ? words.join(' ') : await readFlagFile('--file', file);
  if (text.trim() === '') throw new InputError(`no ${what}: give its text after the step, or --file <file>`);
  return text;
}

interface Flags {
  address?: string;
  namespace?: string;
  taskQueue?: string;
  json?: boolean;
  id?: string;
}

/** Runs `body` with a client for the flags' server, closing it after; workflow errors become one line. */
async function withClient(
  flags: Flags,
  workflowId: string | undefined,
  body: (client: Client, config: WorkerConfig) => Promise<void>,
) {
  const config = resolveWorkerConfig(flags);
  const client = await clientFromFlags(flags);
  try {
    await body(client, config);
  } catch (error) {
    throw workflowId ? explainWorkflowError(error, workflowId) : error;
  } finally {
    await client.connection.close();
  }
}

/**
 * The items in `path` (specs, or a pipeline's items) put in the blob store
 * every worker reads, each line checked as it is uploaded (so a bad line
 * starts nothing): a batch run's source.
 */
export async function uploadSpecs(
  path: string,
  config: WorkerConfig,
  kind: ItemKind = 'specs',
): Promise<ItemSource> {
  const blobs = openBlobStore(config.blobs);
  try {
    return await uploadItems(blobs, path, {
      schema: ITEM_SCHEMAS[kind],
      ...(kind === 'specs'
        ? { unique: { key: (spec: unknown) => (spec as AgentStepSpec).taskId, what: 'task id' } }
        : {}),
    });
  } finally {
    await blobs.close?.();
  }
}

/** A batch run of the items in `path`, with the options of `specFile`, a batch spec without a source. */
async function batchOf(path: string, config: WorkerConfig, specFile?: string): Promise<RunSpec> {
  const spec = specFile ? await loadSourcelessBatchSpec(specFile) : { workflow: 'batch' as const, input: {} };
  const source = await uploadSpecs(path, config, spec.input.stages ? 'items' : 'specs');
  return { ...spec, input: { ...spec.input, source } };
}

const EXCERPT_CHARS = 100;

/** The text to decide on, indented under its step: whole with `--show`, else its first line, cut short. */
function decisionExcerpt(text: string, whole: boolean): string {
  if (whole) return text.replace(/^/gm, '    ');
  const { line, cut } = textHead(text, EXCERPT_CHARS);
  return `    ${line}${cut ? '… (--show for all)' : ''}`;
}

/** A tool call to decide: the call, the agent's reason and the rule that asked, a line each (each cut unless `whole`). */
function toolCallExcerpt({ tool, input, reason, rule }: WaitingToolCall, whole: boolean): string {
  const lines = [
    `${tool} ${JSON.stringify(input)}`,
    ...(reason.trim() ? [`why: ${reason.trim()}`] : []),
    `asked by ${rule}`,
  ];
  return lines.map((line) => decisionExcerpt(line, whole)).join('\n');
}

export function registerWorkflowCommands(program: Command): void {
  startOptions(program.command('start'))
    .description('start the workflow a spec file describes and print its id')
    .argument('[file]', 'run spec, YAML or JSON; with --items, a batch spec without its source')
    .option(
      '--items <file.jsonl>',
      'start a batch run of the specs in this JSONL file (one per line), uploaded to the blob store (--blobs)',
    )
    .action(async (file: string | undefined, flags: Flags & { items?: string; blobs?: string }) => {
      if (file === undefined && flags.items === undefined) {
        throw new InputError('give a run spec file, or --items <file.jsonl> for a batch run');
      }
      await withClient(flags, undefined, async (client, config) => {
        const spec =
          flags.items === undefined ? await loadSpecFile(file!) : await batchOf(flags.items, config, file);
        const handle = await startRun(client, spec, {
          taskQueue: runTaskQueue(flags.taskQueue, spec, config),
          ...(flags.id ? { workflowId: flags.id } : {}),
        });
        console.log(handle.workflowId);
      });
    });

  jsonOption(connectionOptions(program.command('status')))
    .description("show a workflow's status, step progress and what running steps are doing")
    .argument('<id>', 'workflow id')
    .option('--follow', "keep showing progress and running steps' output until the workflow closes")
    .action(async (id: string, flags: Flags & { follow?: boolean }) => {
      await withClient(flags, id, async (client) => {
        const handle = client.workflow.getHandle(id);
        if (flags.follow) {
          const { taskQueue } = await handle.describe();
          // The outcome is shown below; a failed run still gets its status view.
          await watchRun(handle, {
            waitingFor: `a worker on task queue ${taskQueue}`,
            followOutput: true,
          }).catch(() => undefined);
        }
        const description = await handle.describe();
        const [progress, running] = await Promise.all([fetchRunProgress(handle), runningSteps(handle)]);
        const status = {
          workflowId: id,
          type: description.type,
          status: description.status.name,
          taskQueue: description.taskQueue,
          startTime: description.startTime.toISOString(),
          closeTime: description.closeTime?.toISOString(),
        };
        if (flags.json) {
          console.log(JSON.stringify({ ...status, progress: progress ?? null, running }, null, 2));
          return;
        }
        console.log(
          fields([
            ['workflow', status.workflowId],
            ['type', status.type],
            ['status', status.status],
            ['task queue', status.taskQueue],
            ['started', status.startTime],
            ['closed', status.closeTime],
            ['rerun of', description.memo?.[RERUN_OF_MEMO] as string | undefined],
            [
              'progress',
              progress ? progressLine(progress) : `unavailable (no worker answered on ${status.taskQueue})`,
            ],
            ['steering', progress ? steeringLine(progress) : undefined],
            ['budget', budgetLine(progress?.budget)],
          ]),
        );
        if (progress?.steps.length) console.log(stepsTable(progress));
        for (const step of running) {
          console.log(`${step.taskId} (attempt ${step.attempt}) │ ${lastLine(step.output ?? '') || '…'}`);
        }
      });
    });

  jsonOption(connectionOptions(program.command('result')))
    .description('wait for a workflow to finish and print its results')
    .argument('<id>', 'workflow id')
    .action(async (id: string, flags: Flags) => {
      await withClient(flags, id, async (client) => {
        const handle = client.workflow.getHandle(id);
        const { taskQueue } = await handle.describe();
        const { result, progress } = await watchRun(handle, {
          waitingFor: `a worker on task queue ${taskQueue}`,
        });
        process.exitCode = reportResult(result, progress, flags.json ?? false);
      });
    });

  connectionOptions(program.command('cancel'))
    .description('request cancellation of a running workflow, or with --step of one of its steps')
    .argument('<id>', 'workflow id')
    .option('--step <taskId>', 'cancel only this step (its agent is stopped); the rest of the run goes on')
    .action(async (id: string, flags: Flags & { step?: string }) => {
      await withClient(flags, id, async (client) => {
        const handle = client.workflow.getHandle(id);
        if (flags.step !== undefined) {
          const { was } = await cancelStep(handle, flags.step);
          console.log(
            was === 'running'
              ? `cancelling step ${flags.step} of ${id}: its agent is being stopped`
              : `step ${flags.step} of ${id} will not start`,
          );
          return;
        }
        const { status } = await handle.describe();
        // The server accepts a cancel request for a closed workflow and ignores it; say so instead.
        if (status.name !== 'RUNNING')
          throw new Error(`${id} is ${status.name}, not running; nothing to cancel`);
        await handle.cancel();
        console.log(`cancellation requested for ${id}`);
      });
    });

  connectionOptions(program.command('pause'))
    .description('start no new step of a running workflow until `tao resume`; running steps finish')
    .argument('<id>', 'workflow id')
    .action(async (id: string, flags: Flags) => {
      await withClient(flags, id, async (client) => {
        await pauseRun(client.workflow.getHandle(id));
        console.log(`paused ${id}: no new step starts until \`tao resume ${id}\``);
      });
    });

  connectionOptions(program.command('resume'))
    .description('let a paused workflow start steps again')
    .argument('<id>', 'workflow id')
    .action(async (id: string, flags: Flags) => {
      await withClient(flags, id, async (client) => {
        await resumeRun(client.workflow.getHandle(id));
        console.log(`resumed ${id}`);
      });
    });

  for (const verdict of ['approve', 'reject'] as const) {
    const command = connectionOptions(program.command(verdict))
      .description(
        verdict === 'approve'
          ? "let a step waiting for approval go on (before it starts, its outcome after it ran, or its agent's tool call)"
          : "reject a step waiting for approval (it ends failed, with the comment as its error), or its agent's tool call (the agent reads the comment)",
      )
      .argument('<id>', 'workflow id')
      .argument('<taskId>', 'the waiting step (`tao pending` lists them)')
      .option('--comment <text>', 'why; kept in the outcome, or given to the agent');
    if (verdict === 'approve') {
      command
        .option('--output-file <file>', "replace the step's output with this file")
        .option(
          '--input <json>',
          "a tool call: run it with these arguments (a JSON object) instead of the agent's",
        )
        .option(
          '--for-run',
          'a tool call: let calls the same rule asks about run unasked for the rest of the run',
        );
    }
    command.action(
      async (
        id: string,
        taskId: string,
        flags: Flags & { comment?: string; outputFile?: string; input?: string; forRun?: boolean },
      ) => {
        const output =
          flags.outputFile === undefined ? undefined : await readFlagFile('--output-file', flags.outputFile);
        const decision = {
          taskId,
          ...(flags.comment !== undefined ? { comment: flags.comment } : {}),
          ...(output !== undefined ? { output } : {}),
          ...(flags.input !== undefined ? { input: jsonFlag('--input', flags.input) } : {}),
          ...(flags.forRun ? { forRun: true } : {}),
        };
        await withClient(flags, id, async (client) => {
          const handle = client.workflow.getHandle(id);
          await (verdict === 'approve' ? approveStep(handle, decision) : rejectStep(handle, decision));
          console.log(`${verdict === 'approve' ? 'approved' : 'rejected'} step ${taskId} of ${id}`);
        });
      },
    );
  }

  connectionOptions(program.command('say'))
    .description(
      'send a message to a step of a running workflow: its agent reads it before its next model call',
    )
    .argument('<id>', 'workflow id')
    .argument('<taskId>', 'the step (a delegated task too, e.g. lead/task-1-2); pending, waiting or running')
    .argument('[text...]', 'the message; or --file')
    .option('--file <file>', 'read the message from this file')
    .action(async (id: string, taskId: string, words: string[], flags: Flags & { file?: string }) => {
      const text = await textOrFile(words, flags.file, 'message');
      await withClient(flags, id, async (client) => {
        const { seq } = await sendMessage(client.workflow.getHandle(id), taskId, text);
        console.log(
          `message ${seq} for step ${taskId} of ${id} sent: its agent reads it before its next model call`,
        );
      });
    });

  connectionOptions(program.command('answer'))
    .description(
      "answer the question a step's agent asked (`tao pending` shows it): the agent goes on with it",
    )
    .argument('<id>', 'workflow id')
    .argument('<taskId>', 'the step waiting for an answer')
    .argument('[text...]', 'the answer; or --file')
    .option('--file <file>', 'read the answer from this file')
    .action(async (id: string, taskId: string, words: string[], flags: Flags & { file?: string }) => {
      const text = await textOrFile(words, flags.file, 'answer');
      await withClient(flags, id, async (client) => {
        await answerStep(client.workflow.getHandle(id), taskId, text);
        console.log(`answered step ${taskId} of ${id}: its agent goes on with the answer`);
      });
    });

  jsonOption(connectionOptions(program.command('pending')))
    .description(
      'list the steps waiting for a decision, across running workflows (those the TaoWaitingSteps search attribute marks)',
    )
    .option(
      '--query <visibility query>',
      'only among the runs this selects, e.g. WorkflowType = "pipelineWorkflow"',
    )
    .option(
      '--show',
      'the whole prompt (before), output (after), question or tool call to decide on, not an excerpt',
    )
    .action(async (flags: Flags & { query?: string; show?: boolean }) => {
      await withClient(flags, undefined, async (client) => {
        const { pending, unanswered } = await pendingDecisions(client, {
          ...(flags.query !== undefined ? { query: flags.query } : {}),
          // JSON lists the text only when asked: it can be long, and scripts mostly want the ids.
          withText: !flags.json || flags.show === true,
        });
        if (flags.json) {
          console.log(JSON.stringify({ pending, unanswered }, null, 2));
          return;
        }
        if (pending.length === 0) console.log('no step is waiting for a decision');
        for (const step of pending) {
          const what = {
            budget: `to start: ${step.reason ?? 'budget exhausted'} (tao budget raises it)`,
            before: 'to start',
            after: 'on its outcome',
            question: `for the answer to its question (tao answer ${step.workflowId} ${step.taskId} <text>)`,
            tool: `on its agent's tool call (tao approve [--input <json>] [--for-run] or tao reject)`,
          }[step.decision];
          console.log(`${step.workflowId}  ${step.taskId}  (${step.agent ?? 'agent?'})  waiting ${what}`);
          if (step.toolCall) console.log(toolCallExcerpt(step.toolCall, flags.show === true));
          else if (step.text !== undefined) console.log(decisionExcerpt(step.text, flags.show === true));
        }
        if (unanswered.length > 0) {
          console.error(`no worker answered for ${unanswered.length} run(s): ${unanswered.join(', ')}`);
        }
      });
    });

  connectionOptions(program.command('budget'))
    .description("change a running workflow's budget; steps waiting on a spent budget go on")
    .argument('<id>', 'workflow id')
    .option('--max-tokens <n>', 'model tokens, input plus output')
    .option('--max-steps <n>', 'steps run')
    .option('--max-cost-usd <dollars>', 'dollars, from the models’ prices in the LLM config')
    .action(
      async (id: string, flags: Flags & { maxTokens?: string; maxSteps?: string; maxCostUsd?: string }) => {
        const limits = BudgetSchema.safeParse({
          ...(flags.maxTokens !== undefined ? { maxTokens: Number(flags.maxTokens) } : {}),
          ...(flags.maxSteps !== undefined ? { maxSteps: Number(flags.maxSteps) } : {}),
          ...(flags.maxCostUsd !== undefined ? { maxCostUsd: Number(flags.maxCostUsd) } : {}),
        });
        if (!limits.success) throw new InputError(`budget: ${describeZodError(limits.error)}`);
        if (Object.keys(limits.data).length === 0) {
          throw new InputError('budget: give --max-tokens, --max-steps or --max-cost-usd');
        }
        await withClient(flags, id, async (client) => {
          const budget = await setRunBudget(client.workflow.getHandle(id), limits.data);
          console.log(`${id} budget now ${budgetLine(budget)}`);
        });
      },
    );

  connectionOptions(program.command('concurrency'))
    .description('change how many steps (pipeline: chains) of a running workflow may run at once')
    .argument('<id>', 'workflow id')
    .argument('<limit>', 'a whole number ≥ 1')
    .action(async (id: string, limit: string, flags: Flags) => {
      const parsed = Number(limit);
      if (!Number.isInteger(parsed) || parsed < 1) {
        throw new InputError(`concurrency limit must be a whole number ≥ 1, got "${limit}"`);
      }
      await withClient(flags, id, async (client) => {
        await setRunConcurrency(client.workflow.getHandle(id), parsed);
        console.log(`${id} now runs at most ${parsed} at once`);
      });
    });
}

/** A flag's JSON object, or one line naming the flag and the fix. */
function jsonFlag(flag: string, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InputError(
      `${flag}: not JSON (${(error as Error).message}); give a JSON object, e.g. '{"command":"npm test"}'`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InputError(
      `${flag}: give a JSON object of the tool's arguments, e.g. '{"command":"npm test"}'`,
    );
  }
  return value as Record<string, unknown>;
}
