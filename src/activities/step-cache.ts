/**
 * The step cache across runs (contracts' `cache`), on the worker side: the
 * key is computed here, where the executor's agent profile, model and config
 * are known, and entries are kept in the checkpoint store (src/stores/step-cache).
 * The cache only saves work: a store that fails to answer is a miss, and one
 * that fails to keep an entry leaves the step's outcome as it was.
 */
import { Context } from '@temporalio/activity';
import type { TaoActivities } from '../activity-api';
import { type AgentStepSpec, AgentStepSpecSchema, type StepOutcome } from '../contracts';
import type { AgentExecutor } from '../executors/executor';
import type { SessionStore } from '../stores/session-store';
import { jsonDigest, specDigest } from '../workflows/lib/spec-digest';

const digest = (value: unknown) => jsonDigest(value ?? null);

/** The spec's digest, the agent profile's, the model, the executor config's, and the user's key. */
export function stepCacheKey(spec: AgentStepSpec, executor: AgentExecutor): string {
  const identity = executor.cacheIdentity?.(spec) ?? { config: executor.constructor.name };
  return digest({
    spec: specDigest(spec),
    profile: digest(identity.profile),
    model: identity.model ?? null,
    config: digest(identity.config),
    key: spec.cache?.key ?? null,
  });
}

/** Whether a step's outcome may be kept and served: opted in, and no person decides on it. */
export const isCacheable = (spec: AgentStepSpec): boolean => spec.cache !== undefined && !spec.approval;

/** The spec with its agent profile's cache settings when it has none of its own (the workflow does the same). */
const withAgentCache = (spec: AgentStepSpec, executor: AgentExecutor): AgentStepSpec => {
  const cache = spec.cache ?? executor.agentCaches?.()[spec.agent];
  return cache ? { ...spec, cache } : spec;
};

export function createStepCacheActivities(
  executor: AgentExecutor,
  store: SessionStore,
): Pick<TaoActivities, 'lookupStepCache'> {
  return {
    async lookupStepCache(rawSpec) {
      const spec = AgentStepSpecSchema.parse(rawSpec);
      if (!isCacheable(spec) || !store.getCached) return undefined;
      try {
        const entry = await store.getCached(stepCacheKey(spec, executor), Date.now());
        return entry && { outcome: { ...entry.outcome, taskId: spec.taskId }, workflowId: entry.workflowId };
      } catch (error) {
        Context.current().log.warn('step cache lookup failed; the step runs', {
          taskId: spec.taskId,
          error: (error as Error).message,
        });
        return undefined;
      }
    },
  };
}

/** Keeps a successful outcome of a cacheable step; `log` reports a store that could not. */
export async function keepInCache(
  executor: AgentExecutor,
  store: SessionStore | undefined,
  spec: AgentStepSpec,
  outcome: StepOutcome,
  workflowId: string,
  log: (message: string) => void,
): Promise<void> {
  const cached = withAgentCache(spec, executor);
  if (!store?.putCached || !outcome.success || !isCacheable(cached)) return;
  const savedMs = Date.now();
  const ttlMs = cached.cache?.ttlMs;
  try {
    await store.putCached({
      key: stepCacheKey(cached, executor),
      taskId: spec.taskId,
      agent: spec.agent,
      workflowId,
      savedMs,
      ...(ttlMs !== undefined ? { expiresMs: savedMs + ttlMs } : {}),
      outcome,
    });
  } catch (error) {
    log((error as Error).message);
  }
}
