/** One-line text views of a run's progress, shared by `watchRun` and the CLI's status view. */
import type { Progress } from '../workflows/lib/progress';

const BAR_WIDTH = 20;

/**
 * `[████░░░░] 5/12 steps · 2 running · 1 failed`. Pipelines add steps as
 * chains advance, so callers that know the full count pass it to keep the bar
 * from jumping backwards.
 */
export function progressLine(progress: Progress, expectedSteps = 0): string {
  const { totals } = progress;
  const all = Math.max(totals.all, expectedSteps);
  // Progress from an older worker has no `reused` count.
  const reused = totals.reused ?? 0;
  const done = totals.succeeded + totals.failed + totals.cached + reused + totals.skipped;
  const filled = all === 0 ? BAR_WIDTH : Math.round((done / all) * BAR_WIDTH);
  const counts = (['waiting', 'running', 'succeeded', 'failed', 'cached', 'reused', 'skipped'] as const)
    .filter((status) => (totals[status] ?? 0) > 0)
    .map((status) =>
      status === 'reused' && progress.rerunOf !== undefined
        ? `${reused} reused from ${progress.rerunOf}`
        : `${totals[status]} ${status}`,
    );
  // A run split into child executions keeps its steps in the children's own progress.
  const children = progress.partitions ?? [];
  if (children.length > 0) {
    const closed = children.filter((child) => child.status === 'succeeded' || child.status === 'failed');
    counts.push(`${closed.length}/${children.length} child runs done`);
  }
  const bar = `[${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}]`;
  return [`${bar} ${done}/${all} steps`, ...counts].join(' · ');
}

/** The checkpoint and store problems a run reported; it went on regardless. */
export function progressWarnings(progress: Progress): string[] {
  return [...(progress.checkpointWarning ? [progress.checkpointWarning] : []), ...progress.storeWarnings];
}

/** `paused · concurrency 3`, when the run was steered; else undefined. */
export function steeringLine(progress: Progress): string | undefined {
  const parts = [
    ...(progress.paused ? ['paused: no new step starts until resumed'] : []),
    ...(progress.concurrency !== undefined ? [`concurrency set to ${progress.concurrency}`] : []),
  ];
  return parts.length ? parts.join(' · ') : undefined;
}

/** `tokens 1200/5000 · steps 3/10 · $0.0200/$1`: spend against each limit the run's budget has. */
export function budgetLine(budget: Progress['budget']): string | undefined {
  if (!budget) return undefined;
  const { limits, spent } = budget;
  const parts = [
    ...(limits.maxTokens !== undefined ? [`tokens ${spent.tokens}/${limits.maxTokens}`] : []),
    ...(limits.maxSteps !== undefined ? [`steps ${spent.steps}/${limits.maxSteps}`] : []),
    ...(limits.maxCostUsd !== undefined ? [`$${spent.costUsd.toFixed(4)}/$${limits.maxCostUsd}`] : []),
  ];
  return parts.join(' · ');
}
