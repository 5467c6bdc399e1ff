/**
 * A parallel run by reference (issue #33): its specs are a source the run
 * reads a page at a time (src/items), and each step's activity puts its
 * outcome in the worker's outcome store (src/outcomes), so neither the
 * execution nor its history holds the run's specs or outcomes: what it keeps
 * is a window of steps in flight and a summary of counts.
 *
 * Invariants:
 * - an item's `seq` is its place in the source and the step's priority, so
 *   steps start in source order and an outcome lands at its item's place;
 * - the execution holds at most two pages of steps (the window) besides what
 *   it carries to the next one, however long the source;
 * - every settled step's outcome is in the store before the execution ends:
 *   the activity put it (`kept`: a step's own, or one a rerun reused), or the
 *   workflow puts what it settled itself (cached, refused, crashed, and what a
 *   person decided on after the step: its output stays in the workflow until
 *   then) through `keepOutcomes`;
 * - a rerun (`rerunOf`) takes an old outcome only for a succeeded step at the
 *   same place with the same task id and spec digest, and never for a step
 *   with an approval (a person decided on the old outcome, not this run's);
 * - a step the execution did not start (its history filled) goes to the next
 *   execution in `retry`, the page cursor where reading stopped in `cursor`.
 */
import {
  ApplicationFailure,
  condition,
  isCancellation,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { ItemRange } from '../../items';
import type { TaoActivities } from '../../activity-api';
import {
  type AgentStepSpec,
  type BatchInput,
  type ByReferenceCarry,
  type ItemSource,
  type RunSummary,
  type StageTemplate,
  type StepOutcome,
  type StepUsage,
  failedOutcome,
} from '../../contracts';
import { stageFromTemplate } from '../stage-templates';
import { runPartitioned } from './partition';
import { Chains } from './pipeline';
import { type StepProgress, settledOutcome } from './progress';
import { specDigest } from './spec-digest';
import type { RunContext } from './run-context';
import { type CallOptions, openCall } from './step-call';
import { MAX_ACTIVITIES_IN_FLIGHT } from './slots';
import { startQueued } from './pool';
import { firstActivity, isDeferred, queuesPlain, runQueuedStep, runStep, topLevel } from './steps';

// A page read or a batch of puts takes well under a second; the timeout is what a worker that died during
// one costs the run (a crash test caught 5 minutes of it), so it is short and the retries are many.
const { readItems, keepOutcomes, reuseOutcomes } = proxyActivities<TaoActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 10 },
});

// Splitting reads the whole of a file source once (a million 2 KB lines: seconds), so it gets longer than a page.
const { splitItems } = proxyActivities<TaoActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 10 },
});

/** Failed steps a summary lists, the first in the source; the rest are counted, and `tao results --failed` lists them all. */
export const FAILED_STEPS_LISTED = 100;

/** Outcomes the workflow settled itself, put in one `keepOutcomes` call. */
const KEEP_BATCH = 100;

/** Items a page holds: twice the run's limit, so a page keeps every slot busy, within 50 to 500. */
export const pageItemsFor = (limit: number) => Math.min(500, Math.max(50, 2 * limit));

export function emptySummary(run: string): RunSummary {
  return {
    total: 0,
    succeeded: 0,
    failed: 0,
    failedSteps: [],
    usage: { inputTokens: 0, outputTokens: 0, costUsd: 0 },
    outcomes: { run },
  };
}

/** A split run's child's share: see the `part` of contracts' BatchInputSchema. */
export type SourcePart = NonNullable<BatchInput['part']>;

/** The summary of a split run: its children's, added up; the failed steps listed are still the first in the source. */
export function addedSummaries(run: string, parts: readonly RunSummary[]): RunSummary {
  const summary = emptySummary(run);
  for (const part of parts) {
    summary.total += part.total;
    summary.succeeded += part.succeeded;
    summary.failed += part.failed;
    summary.failedSteps.push(...part.failedSteps);
    summary.usage.inputTokens += part.usage.inputTokens;
    summary.usage.outputTokens += part.usage.outputTokens;
    summary.usage.costUsd += part.usage.costUsd;
    if (part.reused !== undefined) summary.reused = (summary.reused ?? 0) + part.reused;
  }
  summary.failedSteps.sort((a, b) => a.seq - b.seq).splice(FAILED_STEPS_LISTED);
  return summary;
}

/**
 * A run whose limit is more than one execution keeps in flight, and has no
 * budget (which binds one execution): its source as ranges, each run by a
 * child batch run side by side at a share of the limit (./partition, which
 * also passes steering on), and their summaries added up; undefined for a
 * run one execution holds. The parent holds the ranges, never the items; the
 * children put the outcomes under its id.
 */
export async function runSplit(
  context: RunContext,
  source: ItemSource,
  options: Omit<BatchInput, 'source' | 'carried' | 'part'>,
): Promise<RunSummary | undefined> {
  const limit = await context.limit(options.concurrency);
  if (options.budget || limit <= MAX_ACTIVITIES_IN_FLIGHT) return undefined;
  const ranges = await splitItems(source, Math.ceil(limit / MAX_ACTIVITIES_IN_FLIGHT));
  if (ranges.length < 2) return undefined;
  const run = workflowInfo().workflowId;
  const summaries = await runPartitioned<ItemRange, RunSummary>(context, {
    items: ranges,
    perChild: 1,
    limit,
    workflowType: 'batchWorkflow',
    span: ([range]) => ({ first: range!.from?.seq ?? 0, count: range!.count }),
    childInput: ([range], _offset, concurrency) => ({
      ...options,
      ...context.forChildren(),
      source,
      concurrency,
      part: { of: run, ...range! },
    }),
    onChildFailure: (_slice, _offset, message) => {
      throw ApplicationFailure.nonRetryable(
        `${message}; the outcomes its steps kept are in the store, and tao rerun ${run} takes them and runs the rest`,
      );
    },
  });
  return addedSummaries(run, summaries);
}

/** Adds the step at `seq` to the summary. */
function count(summary: RunSummary, seq: number, outcome: StepOutcome): void {
  summary.total += 1;
  if (outcome.success) summary.succeeded += 1;
  else {
    summary.failed += 1;
    const listed = summary.failedSteps;
    const at = listed.findIndex((step) => step.seq > seq);
    listed.splice(at < 0 ? listed.length : at, 0, { seq, taskId: outcome.taskId });
    if (listed.length > FAILED_STEPS_LISTED) listed.pop();
  }
  addUsage(summary, outcome.usage);
}

function addUsage(summary: RunSummary, usage: StepUsage | undefined): void {
  if (!usage) return;
  summary.usage.inputTokens += usage.inputTokens;
  summary.usage.outputTokens += usage.outputTokens;
  summary.usage.costUsd += usage.costUsd ?? 0;
}

const CHAIN_WITHOUT_OUTCOME =
  'no stage of this item ran to an outcome (a stage template failed, or its step crashed); tao status shows which';

/**
 * Runs the source's steps from `carry` on: the run's summary once the source
 * is read and every step settled, or what the next execution goes on from
 * when this one's history filled.
 */
export async function runSource(
  context: RunContext,
  source: ItemSource,
  options: CallOptions & { rerunOf?: string; part?: SourcePart; stages?: StageTemplate[] },
  carry: ByReferenceCarry | undefined,
): Promise<{ summary: RunSummary } | { carry: ByReferenceCarry }> {
  const { part } = options;
  const run = part?.of ?? workflowInfo().workflowId;
  const summary = carry?.summary ?? emptySummary(run);
  let cursor = carry?.cursor ?? part?.from ?? null;
  /** Where this run's share of the source ends. */
  const end = part ? (part.from?.seq ?? 0) + part.count : Infinity;
  let read = carry?.read ?? false;
  const pageItems = pageItemsFor(await context.limit(options.concurrency));
  const call = await openCall(context, { ...options, continuesAsNew: true, keepsOutcomes: run });
  const left: ByReferenceCarry['retry'] = [];
  // A pipeline's chains add each stage's usage as it ends; the outcome they count is the chain's last.
  const chains =
    options.stages &&
    new Chains<unknown>(
      call,
      options.stages.map((template) => stageFromTemplate(template)),
      (outcome) => addUsage(summary, outcome.usage),
    );
  const unkept: { seq: number; outcome: StepOutcome }[] = [];
  const putting: Promise<void>[] = [];
  let running = 0;
  let stopped: { error: unknown } | undefined;

  const flush = () => {
    if (unkept.length > 0) putting.push(keepOutcomes(run, unkept.splice(0)));
  };
  /** Counts `counted` (default: the outcome) and puts the outcome, unless its activity kept it. */
  const settle = (seq: number, outcome: StepOutcome, counted = outcome) => {
    count(summary, seq, counted);
    if (outcome.kept) return;
    unkept.push({ seq, outcome });
    if (unkept.length >= KEEP_BATCH) flush();
  };
  // A cached outcome is as good as a run one for a rerun, so it is kept with its spec's digest.
  const settleStep = (seq: number, spec: AgentStepSpec, outcome: StepOutcome) =>
    settle(seq, outcome.success && !outcome.kept ? { ...outcome, specDigest: specDigest(spec) } : outcome);
  // What a chain or a rerun took did not spend this run's usage: chains add each stage's as it ends.
  const settleUnspent = (seq: number, outcome: StepOutcome) =>
    settle(seq, outcome, { ...outcome, usage: undefined });
  const reuse = async (items: { seq: number; item: unknown }[]) => {
    // A rerun takes steps, not chains: a pipeline's rerun runs every chain again.
    if (!options.rerunOf || chains) return new Map<number, StepOutcome>();
    const steps = items.flatMap(({ seq, item }) => {
      const spec = item as AgentStepSpec;
      return spec.approval ? [] : [{ seq, taskId: spec.taskId, specDigest: specDigest(spec) }];
    });
    const reused = await reuseOutcomes(options.rerunOf, run, steps);
    summary.reused = (summary.reused ?? 0) + reused.length;
    return new Map(reused.map(({ seq, outcome }) => [seq, outcome]));
  };
  type Pending = { seq: number; spec: AgentStepSpec; entry: StepProgress };
  const pending = (seq: number, spec: AgentStepSpec): Pending => ({
    seq,
    spec,
    entry: context.board.addStep(spec, 'pending'),
  });
  /** Starts the steps; those with nothing before their slot queue for it unbuilt (./pool). */
  const start = (steps: readonly Pending[]) => {
    running += steps.length;
    startQueued(
      call.slots,
      steps,
      ({ seq, spec }) => {
        const at = topLevel(seq, false);
        return queuesPlain(call, spec, at) ? firstActivity(spec, at) : undefined;
      },
      ({ seq, spec, entry }, _index, scope, grant) => {
        const at = topLevel(seq, false);
        return grant ? runQueuedStep(call, spec, entry, at, grant, scope) : runStep(call, spec, entry, at);
      },
      (index, result) => {
        running -= 1;
        const { seq, spec, entry } = steps[index]!;
        if (result.ok) {
          if (isDeferred(result.value)) left.push({ seq, spec });
          else settleStep(seq, spec, result.value);
        } else if (isCancellation(result.error)) stopped ??= { error: result.error };
        else settleStep(seq, spec, settledOutcome(result, spec, entry));
      },
    );
  };
  const startChain = (seq: number, item: unknown) => {
    running += 1;
    const first = context.board.add({ key: `${seq}/0`, item: seq, stage: 0, status: 'pending' });
    chains!
      .run(item, seq, first)
      .then(
        (last) => {
          if (last === undefined) left.push({ seq, item });
          else settleUnspent(seq, last ?? failedOutcome(`items.${seq}`, '', CHAIN_WITHOUT_OUTCOME));
        },
        (error: unknown) => {
          if (isCancellation(error)) stopped ??= { error };
          else settleUnspent(seq, failedOutcome(`items.${seq}`, '', (error as Error).message));
        },
      )
      .finally(() => (running -= 1));
  };

  try {
    const retried: Pending[] = [];
    for (const step of carry?.retry ?? []) {
      if ('spec' in step) retried.push(pending(step.seq, step.spec));
      else startChain(step.seq, step.item);
    }
    start(retried);
    const room = () => !read && !stopped && call.admission.admits() && running <= pageItems;
    for (;;) {
      if (room()) {
        const limit = Math.min(pageItems, end - (cursor?.seq ?? 0));
        const page = await readItems({ source, cursor, limit, kind: chains ? 'items' : 'specs' });
        const reused = await reuse(page.items);
        const steps: Pending[] = [];
        for (const { seq, item } of page.items) {
          const outcome = reused.get(seq);
          if (chains) startChain(seq, item);
          else if (!outcome) steps.push(pending(seq, item as AgentStepSpec));
          else {
            context.board.addStep(item as AgentStepSpec, 'succeeded');
            settleUnspent(seq, outcome);
          }
        }
        start(steps);
        cursor = page.next;
        read = cursor === null || cursor.seq >= end;
        continue;
      }
      await condition(() => running === 0 || room());
      if (running === 0 && !room()) break;
    }
    flush();
    await Promise.all(putting);
  } finally {
    call.close();
  }
  if (stopped) throw stopped.error;
  if (read && left.length === 0) return { summary };
  return { carry: { cursor, read, summary, retry: left.sort((a, b) => a.seq - b.seq) } };
}
