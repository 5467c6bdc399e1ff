/**
 * Reruns (`tao rerun`): a new run of the same kind as a closed one, with its
 * spec edited, that reuses the old run's outcome for every step whose spec is
 * unchanged and which depends on nothing that ran again (workflows/lib/reuse
 * decides that as the new run goes). The old run is only read, from its
 * history; the new one records where it came from in its memo and progress.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { InputError } from '../config/data-file';
import { type AgentStepSpecInput, type ItemSource, type RunSummary, describeZodError } from '../contracts';
import { WORKFLOW_TYPES, startRun } from './start';
import { type ClosedRun, type RunStep, closedRunStart, readClosedRun } from './run-history';
import { type RunSpec, type WorkflowKind, RunSpecSchema } from './spec-file';

export interface RerunOptions {
  /** The edited spec (its workflow must be the old run's kind); default: the old run's input. */
  spec?: RunSpec;
  /** Edits, each `<taskId>.<field>=<value>` (`@<file>` reads the value from a file), on the spec or the old input. */
  set?: readonly string[];
  /** This step of the old run, and everything after it, runs again (a pipeline's chain, a loop's later rounds, a parallel run's later specs). */
  from?: string;
  /** Default: the spec's, else the old run's task queue. */
  taskQueue?: string;
  /** Default: `<old id>-rerun-<random>`. */
  workflowId?: string;
  /** A batch run's items, edited (`tao rerun --items`): they replace the old run's source. */
  items?: ItemSource;
}

/** The memo key a rerun records the run it came from under (`temporal workflow describe` shows it). */
export const RERUN_OF_MEMO = 'rerunOf';

export interface Rerun {
  handle: WorkflowHandle;
  /** What the new run was started with (its input carries the reusable outcomes). */
  spec: RunSpec;
  taskQueue: string;
  /** Outcomes the new run may reuse. */
  reusable: number;
}

/** Starts a rerun of the closed run `fromWorkflowId`; see {@link RerunOptions}. */
export async function rerunRun(
  client: Client,
  fromWorkflowId: string,
  options: RerunOptions = {},
): Promise<Rerun> {
  const start = await closedRunStart(client, fromWorkflowId);
  const kind = kindOf(start);
  if (options.spec && options.spec.workflow !== kind) {
    throw new InputError(
      `${fromWorkflowId} is a ${kind} run and the spec describes a ${options.spec.workflow} run; a rerun keeps the kind`,
    );
  }
  const input = withoutRunState(
    structuredClone(options.spec?.input ?? start.input) as Record<string, unknown>,
  );
  let reusable: number;
  if (kind === 'batch') {
    reusable = await batchReuse(client, fromWorkflowId, input, options);
  } else {
    if (options.items) {
      throw new InputError(`${fromWorkflowId} is a ${kind} run; --items replaces a batch run's items`);
    }
    const old = await readClosedRun(client, start);
    for (const edit of options.set ?? []) await applySet(kind, input, edit);
    const steps = options.from === undefined ? old.steps : forcedFrom(kind, input, old, options.from);
    if (steps.length > 0) input.reuse = { fromWorkflowId, steps };
    reusable = steps.length;
  }
  const spec = RunSpecSchema.safeParse({ workflow: kind, input });
  if (!spec.success) throw new InputError(`the edited spec is not valid: ${describeZodError(spec.error)}`);
  const taskQueue = options.taskQueue ?? options.spec?.taskQueue ?? start.taskQueue;
  const workflowId = options.workflowId ?? `${fromWorkflowId}-rerun-${randomUUID().slice(0, 8)}`;
  const handle = await startRun(client, spec.data, {
    taskQueue,
    workflowId,
    memo: { [RERUN_OF_MEMO]: fromWorkflowId },
    summarySuffix: `rerun of ${fromWorkflowId}`,
  });
  return { handle, spec: spec.data, taskQueue, reusable };
}

/**
 * A batch rerun's input: the old run's outcomes are in the outcome store, so
 * the new run names the old one (`rerunOf`) and its steps take what they may
 * as they are read; `items` replaces the source. Its specs are in a file, so
 * edits are made there: `--set` and `--from` do not apply. What it may reuse
 * is what the old run's summary counts as succeeded.
 */
async function batchReuse(
  client: Client,
  fromWorkflowId: string,
  input: Record<string, unknown>,
  options: RerunOptions,
): Promise<number> {
  if (input.stages) {
    throw new InputError(
      `${fromWorkflowId} is a pipeline by reference, whose rerun would run every chain again (it takes steps, not chains); start it again with tao start <spec> --items <file>`,
    );
  }
  if ((options.set?.length ?? 0) > 0 || options.from !== undefined) {
    throw new InputError(
      `${fromWorkflowId} is a batch run, whose specs are in its items: edit the JSONL file and give it with --items instead of --set or --from`,
    );
  }
  if (options.items) input.source = options.items;
  input.rerunOf = fromWorkflowId;
  const summary = await client.workflow
    .getHandle(fromWorkflowId)
    .result()
    .then(
      (result: RunSummary) => result,
      () => undefined,
    );
  return summary?.succeeded ?? 0;
}

/** Spec kinds by the workflow type they start. */
const KINDS: Record<string, WorkflowKind> = Object.fromEntries(
  Object.entries(WORKFLOW_TYPES).map(([kind, type]) => [type, kind as WorkflowKind]),
);

function kindOf(run: Pick<ClosedRun, 'workflowId' | 'workflowType'>): WorkflowKind {
  const kind = KINDS[run.workflowType];
  if (!kind) {
    throw new InputError(
      `${run.workflowId} is a ${run.workflowType} run; tao rerun reruns ${Object.keys(KINDS).join(', ')} runs`,
    );
  }
  return kind;
}

/**
 * Fields the workflow sets on its own executions (a pause, carried spend,
 * failures and a batch's place, a loop's round, messages people sent its
 * steps, tool calls they allowed for it), the checkpoint, and what the old
 * run itself reused: the new run keeps its own, so it never writes to, or
 * deletes, the old run's, nor inherits what was said to it.
 */
const RUN_STATE = [
  'paused',
  'budgetSpent',
  'carriedFailures',
  'messages',
  'toolGrants',
  'round',
  'sharedCheckpoint',
  'checkpointId',
  'reuse',
  'carried',
  'rerunOf',
];

function withoutRunState(input: Record<string, unknown>): Record<string, unknown> {
  for (const field of RUN_STATE) delete input[field];
  return input;
}

/** The specs (or templates) a `--set` may name, by their task id, in the input's order. */
function editableSpecs(kind: WorkflowKind, input: Record<string, unknown>): AgentStepSpecInput[] {
  const list = (value: unknown) => (Array.isArray(value) ? (value as AgentStepSpecInput[]) : []);
  switch (kind) {
    case 'pipeline': {
      const plan = (input.plan as { step?: AgentStepSpecInput } | undefined)?.step;
      return [...(plan ? [plan] : []), ...list(input.stages)];
    }
    case 'loop':
      return [...list(input.initial), ...list((input.next as { specs?: unknown } | undefined)?.specs)];
    default:
      return list(input.specs);
  }
}

const SETTABLE = { prompt: 'text', description: 'text', agent: 'text', maxSteps: 'number' } as const;

async function applySet(kind: WorkflowKind, input: Record<string, unknown>, edit: string): Promise<void> {
  const match = /^(.+)\.([A-Za-z]+)=(.*)$/s.exec(edit);
  if (!match) throw new InputError(`--set ${edit}: write it as <taskId>.<field>=<value> or =@<file>`);
  const [, taskId, field, raw] = match as unknown as [string, string, string, string];
  if (!(field in SETTABLE)) {
    throw new InputError(
      `--set ${edit}: ${field} cannot be set; set one of ${Object.keys(SETTABLE).join(', ')}`,
    );
  }
  const specs = editableSpecs(kind, input);
  const target = specs.find((spec) => spec.taskId === taskId);
  if (!target) {
    throw new InputError(
      `--set ${edit}: no step or stage has task id ${taskId}; the ${kind} run has ${specs.map((s) => s.taskId).join(', ')}`,
    );
  }
  const text = raw.startsWith('@') ? await readValueFile(raw.slice(1), edit) : raw;
  const value = SETTABLE[field as keyof typeof SETTABLE] === 'number' ? Number(text) : text;
  if (typeof value === 'number' && !(Number.isInteger(value) && value >= 1)) {
    throw new InputError(`--set ${edit}: ${field} must be a whole number ≥ 1`);
  }
  Object.assign(target, { [field]: value });
}

async function readValueFile(path: string, edit: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new InputError(
      `--set ${edit}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? error})`,
    );
  }
}

/**
 * The old steps less `from` and what comes after it. A pipeline's chain and a
 * loop's later rounds run again by themselves once a step of theirs ran; in
 * a parallel or resumable run, "after" is the order of the specs.
 */
function forcedFrom(
  kind: WorkflowKind,
  input: Record<string, unknown>,
  old: ClosedRun,
  from: string,
): RunStep[] {
  if (!old.steps.some((step) => step.taskId === from)) {
    throw new InputError(
      `--from ${from}: ${old.workflowId} has no succeeded step with that task id; \`tao status ${old.workflowId}\` lists its steps`,
    );
  }
  const order =
    kind === 'parallel' || kind === 'resumable' ? editableSpecs(kind, input).map((s) => s.taskId) : [];
  const forced = new Set(order.includes(from) ? order.slice(order.indexOf(from)) : [from]);
  return old.steps.filter((step) => !forced.has(step.taskId));
}
