import type { TaoActivities, TaoLocalActivities } from '../activity-api';
import type { BlobStore } from '../blobs';
import type { AgentExecutor } from '../executors/executor';
import type { OutcomeStore } from '../outcomes';
import type { SessionStore } from '../stores/session-store';
import { createAgentStepActivity } from './agent-step';
import { createCheckpointActivities } from './checkpoint';
import { createItemActivities } from './items';
import { createKeptOutcomeActivities } from './kept-outcome';
import { createStepCacheActivities } from './step-cache';
import { StepPermits } from './step-permits';

export interface ActivityDeps {
  executor: AgentExecutor;
  store: SessionStore;
  /** The worker's blob store (`--blobs`), where `tao start --items` puts a run's items; none: it reads only JSONL files. */
  blobs?: BlobStore;
  /** Where runs by reference keep their outcomes: the checkpoint store's ref makes it (src/outcomes). */
  outcomes?: OutcomeStore;
  /** Overrides the executor's concurrency hint (worker `--concurrency`). */
  concurrency?: number;
  /** A step attempt with no progress for this long is retried (see ./stall-watchdog). */
  stallTimeoutMs?: number;
  /** Model and tool spans carry prompts, answers and tool I/O, scrubbed (worker `--trace-content`). */
  traceContent?: boolean;
}

export function createActivities(deps: ActivityDeps): TaoActivities & TaoLocalActivities {
  return {
    ...createAgentStepActivity(deps.executor, {
      store: deps.store,
      permits: new StepPermits(Math.max(1, deps.concurrency ?? deps.executor.concurrencyHint())),
      ...(deps.stallTimeoutMs !== undefined ? { stallTimeoutMs: deps.stallTimeoutMs } : {}),
      ...(deps.traceContent ? { traceContent: true } : {}),
      ...(deps.outcomes ? { outcomes: deps.outcomes } : {}),
    }),
    ...createCheckpointActivities(deps.store),
    ...createStepCacheActivities(deps.executor, deps.store),
    ...createItemActivities(deps.blobs),
    ...createKeptOutcomeActivities(deps.outcomes),
    async executorInfo() {
      const agentCaches = deps.executor.agentCaches?.() ?? {};
      return {
        concurrencyHint: deps.concurrency ?? deps.executor.concurrencyHint(),
        ...(Object.keys(agentCaches).length > 0 ? { agentCaches } : {}),
        ...(deps.executor.acceptsMessages ? { messages: true } : {}),
      };
    },
  };
}
