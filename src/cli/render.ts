/** Plain-text views of runs, progress and checkpoints for the terminal; `--json` bypasses all of this. */
import Table from 'cli-table3';
import type { StepOutcome, WorkflowCheckpoint } from '../contracts';
import type { CheckpointSummary, StepStateSummary } from '../stores/session-store';
import type { CacheEntrySummary } from '../stores/step-cache';
import type { Progress } from '../workflows/lib/progress';
import type { GarbageReport, RunResult } from '../client';
import type { DeploymentState } from '../client/deployments';
import type { StepEvent } from '../transcripts/events';

const OUTPUT_WIDTH = 60;

// No colours: output is often piped or captured, and tables must read the same there. No rules between rows.
const table = (head: string[]) =>
  new Table({
    head,
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });

/** Squeezes free text (agent output, errors) into one table cell. */
function oneLine(text: string, max = OUTPUT_WIDTH): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export type RowStatus = 'ok' | 'failed' | 'no result';

export interface ResultRow {
  index: number;
  taskId: string;
  agent: string;
  status: RowStatus;
  text: string;
}

/**
 * One row per result entry. A pipeline's `null` is either a chain that never
 * started (not a failure) or one whose stage or step crashed; the progress
 * view, when available, tells which and why.
 */
export function resultRows(results: RunResult, progress?: Progress): ResultRow[] {
  return results.map((outcome, index) => {
    if (outcome) return outcomeRow(index, outcome);
    const chain = progress?.steps.filter((step) => step.item === index) ?? [];
    const crashed = chain.find((step) => step.status === 'failed');
    if (crashed) {
      return {
        index,
        taskId: crashed.taskId ?? crashed.key,
        agent: crashed.agent ?? '',
        status: 'failed',
        text: crashed.error ?? '',
      };
    }
    const neverStarted = chain.some((step) => step.stage === 0 && step.status === 'skipped');
    return {
      index,
      taskId: '',
      agent: '',
      status: 'no result',
      text: neverStarted ? 'the first stage produced no step' : '',
    };
  });
}

function outcomeRow(index: number, outcome: StepOutcome): ResultRow {
  return {
    index,
    taskId: outcome.taskId,
    agent: outcome.agent,
    status: outcome.success ? 'ok' : 'failed',
    text: outcome.success ? outcome.output : (outcome.error ?? outcome.output),
  };
}

/** A step's outcome as one line, for outcomes printed as they are read: its place, task, agent, result, first line of output. */
export function resultLine(seq: number, outcome: StepOutcome): string {
  const { taskId, agent, status, text } = outcomeRow(seq, outcome);
  return [seq, taskId, agent, status, oneLine(text.trim().split('\n')[0] ?? '', OUTPUT_WIDTH * 2)].join('  ');
}

export function resultsTable(rows: readonly ResultRow[]): string {
  const view = table(['#', 'task', 'agent', 'result', 'output']);
  for (const row of rows) view.push([row.index, row.taskId, row.agent, row.status, oneLine(row.text)]);
  const counts = (['ok', 'failed', 'no result'] as const)
    .map((status) => [status, rows.filter((row) => row.status === status).length] as const)
    .filter(([, count]) => count > 0)
    .map(([status, count]) => `${count} ${status}`);
  return `${view.toString()}\n${counts.join(' · ') || 'no results'}`;
}

/** The steps' table; a run whose agents delegated gets a `parent` column, and each task its depth's indent. */
export function stepsTable(progress: Pick<Progress, 'steps'>): string {
  const tree = progress.steps.some((step) => step.parentTaskId !== undefined);
  const view = table(['step', 'task', ...(tree ? ['parent'] : []), 'agent', 'status', 'attempt', 'error']);
  for (const step of progress.steps) {
    const indent = '  '.repeat(step.depth ?? 0);
    view.push([
      step.key,
      `${indent}${step.taskId ?? ''}`,
      ...(tree ? [step.parentTaskId ?? ''] : []),
      step.agent ?? '',
      withSource(step),
      step.attempt || '',
      oneLine(step.error ?? ''),
    ]);
  }
  return view.toString();
}

/** A reused or cached step's status names the run its outcome came from. */
function withSource(step: Progress['steps'][number]): string {
  const from = step.reusedFrom ?? step.cachedFrom;
  return from === undefined ? step.status : `${step.status} from ${from}`;
}

/** Aligned `label  value` lines. */
export function fields(entries: [string, string | undefined][]): string {
  const present = entries.filter((entry): entry is [string, string] => entry[1] !== undefined);
  const width = Math.max(...present.map(([label]) => label.length));
  return present.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}

const timestamp = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : '');

/** What a store holds, a row each, with a note on those it cannot read. */
function storeTable<T extends { unreadable?: string }>(
  empty: string,
  headers: string[],
  items: readonly T[],
  cells: (item: T) => (string | number)[],
): string {
  if (items.length === 0) return empty;
  const view = table([...headers, 'note']);
  for (const item of items) {
    view.push([...cells(item), item.unreadable ? `unreadable: ${oneLine(item.unreadable)}` : '']);
  }
  return view.toString();
}

export function checkpointsTable(summaries: readonly CheckpointSummary[]): string {
  return storeTable('no checkpoints', ['checkpoint', 'steps', 'saved'], summaries, (s) => [
    s.checkpointId,
    s.steps,
    timestamp(s.checkpointMs),
  ]);
}

export function stepStatesTable(summaries: readonly StepStateSummary[]): string {
  return storeTable(
    'no step states',
    ['step (workflow/run/activity)', 'attempt', 'saves', 'saved', 'bytes'],
    summaries,
    (s) => [s.key, s.attempt, s.seq, timestamp(s.savedMs), s.bytes],
  );
}

export function cacheTable(summaries: readonly CacheEntrySummary[], nowMs = Date.now()): string {
  return storeTable(
    'no cached steps',
    ['key', 'task', 'agent', 'from run', 'saved', 'expires'],
    summaries,
    (s) => [
      s.key,
      s.taskId,
      s.agent,
      s.workflowId,
      timestamp(s.savedMs),
      s.expiresMs === undefined
        ? 'never'
        : `${timestamp(s.expiresMs)}${s.expiresMs <= nowMs ? ' (expired)' : ''}`,
    ],
  );
}

/** `tao gc`'s report: a total per kind, then every item; a dry run lists the same items as the run after it. */
export function garbageView(report: GarbageReport): string {
  const kinds = [
    ['checkpoint', 'checkpoints', report.checkpoints],
    ['step state', 'step states', report.stepStates],
    ['cache entry', 'cache entries', report.cache],
    ['transcript', 'transcripts', report.transcripts],
    ['blob', 'blobs', report.blobs],
    ['outcomes', 'run outcomes', report.outcomes],
  ] as const;
  const totals = table(['kind', report.dryRun ? 'would remove' : 'removed', 'bytes']);
  const items: string[] = [];
  for (const [kind, plural, collected] of kinds) {
    if (!collected) continue;
    totals.push([plural, collected.count, collected.bytes]);
    items.push(...collected.items.map((item) => `${kind.padEnd(11)}  ${item}`));
  }
  const heading = `${report.dryRun ? 'dry run: nothing removed; ' : ''}state of runs closed before ${report.cutoff.toISOString()} (${report.liveExecutions} live executions read)`;
  return [heading, totals.toString(), ...items].join('\n');
}

export function checkpointView(checkpointId: string, checkpoint: WorkflowCheckpoint): string {
  const view = table(['task', 'agent', 'result', 'output']);
  for (const { outcome } of checkpoint.steps) {
    const row = outcomeRow(0, outcome);
    view.push([row.taskId, row.agent, row.status, oneLine(row.text)]);
  }
  const header = fields([
    ['checkpoint', checkpointId],
    ['schema', String(checkpoint.schemaVersion)],
    ['saved', timestamp(checkpoint.checkpointMs)],
    ['steps', String(checkpoint.steps.length)],
  ]);
  return `${header}\n${view.toString()}`;
}

export function deploymentView(state: DeploymentState): string {
  const ramping =
    state.rampingBuildId && `build ${state.rampingBuildId}, for ${state.rampingPercentage ?? 0}% of new runs`;
  const header = fields([
    ['worker deployment', state.deploymentName],
    ['new runs go to', state.currentBuildId ? `build ${state.currentBuildId}` : 'unversioned workers'],
    ['ramping', ramping],
  ]);
  const view = table(['build', 'status', 'created', 'drainage checked']);
  for (const version of state.versions) {
    view.push([
      version.buildId,
      version.status,
      version.createdAt?.toISOString() ?? '',
      version.drainageCheckedAt?.toISOString() ?? '',
    ]);
  }
  const legend = 'draining: runs are still pinned to it · drained: none are, its workers may stop';
  return `${header}\n${view.toString()}\n${legend}`;
}

/** One line per transcript event: number, time, attempt, and what happened; text deltas print as they came. */
export function transcriptLine(event: StepEvent): string {
  const head = `#${event.seq} ${new Date(event.timeMs).toISOString().slice(11, 23)} a${event.attempt}`;
  return `${head} ${eventSummary(event)}${event.truncated ? ' [cut]' : ''}`;
}

function eventSummary(event: StepEvent): string {
  const wide = OUTPUT_WIDTH * 2;
  switch (event.kind) {
    case 'attempt-start':
      return event.resumedAtRound === undefined
        ? 'attempt started'
        : `attempt started, resumed the saved conversation at round ${event.resumedAtRound}`;
    case 'turn-start':
      return `round ${event.round}: asked the model`;
    case 'text-delta':
      return `round ${event.round} text: ${oneLine(event.text, wide)}`;
    case 'turn-end': {
      const { inputTokens, outputTokens, costUsd } = event.usage;
      const cost = costUsd === undefined ? '' : `, $${costUsd.toFixed(6)}`;
      return `round ${event.round}: ${event.model} answered (${event.finish}; ${inputTokens} in, ${outputTokens} out${cost}): ${oneLine(event.text, wide)}`;
    }
    case 'tool-call':
      return `round ${event.round}: calls ${event.name} ${oneLine(event.input, wide)} [${event.callId}]`;
    case 'tool-result':
      return `round ${event.round}: ${event.isError ? 'error' : 'result'} [${event.callId}]: ${oneLine(event.content, wide)}`;
    case 'message':
      return `message ${event.number} from a person: ${oneLine(event.text, wide)}`;
    case 'tool-decision': {
      const why = [event.rule, event.comment, event.input && `ran with ${oneLine(event.input, wide)}`].filter(
        Boolean,
      );
      return `tool call ${event.decision} [${event.callId}]${why.length ? `: ${why.join('; ')}` : ''}`;
    }
    case 'delegated':
      return `round ${event.round}: delegated ${event.tasks.map((t) => `${t.agent} "${t.description}"`).join(', ')} [${event.callId}]`;
    case 'delegation-result':
      return `delegated tasks came back [${event.callId}]: ${event.outcomes.map((o) => `${o.taskId} ${o.success ? 'ok' : 'failed'}`).join(', ')}`;
    case 'attempt-end': {
      const dropped = event.droppedEvents
        ? ` (${event.droppedEvents} events dropped: step over its limit)`
        : '';
      return `attempt ended: ${event.result}${event.error ? `: ${oneLine(event.error, wide)}` : ''}${dropped}`;
    }
  }
}
