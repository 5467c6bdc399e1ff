import { Context } from '@temporalio/activity';
import type { AppendResult, CheckpointAppend, TaoActivities } from '../activity-api';
import { checkpointSaveMetric } from '../telemetry/metrics';
import { WORKFLOW_CHECKPOINT_SCHEMA_VERSION } from '../contracts';
import { CheckpointUnreadableError, type SessionStore } from '../stores/session-store';

export function createCheckpointActivities(
  store: SessionStore,
): Pick<TaoActivities, 'loadCheckpoint' | 'saveCheckpoint' | 'deleteCheckpoint'> {
  return {
    async loadCheckpoint(checkpointId) {
      try {
        const checkpoint = await store.load(checkpointId);
        return checkpoint ? { status: 'loaded', steps: checkpoint.steps } : { status: 'none' };
      } catch (error) {
        // Unreadable data will not heal on retry; report it and let the workflow re-run everything.
        if (error instanceof CheckpointUnreadableError) {
          Context.current().log.warn('checkpoint unreadable; the run starts from scratch', {
            checkpointId,
            reason: error.message,
          });
          return { status: 'unreadable', reason: error.message };
        }
        throw error;
      }
    },

    async saveCheckpoint(checkpointId, append) {
      const meter = Context.current().metricMeter;
      try {
        const result = await saveAppend(checkpointId, append);
        checkpointSaveMetric(meter, result);
        return result;
      } catch (error) {
        checkpointSaveMetric(meter, 'failed');
        throw error;
      }
    },

    async deleteCheckpoint(checkpointId) {
      await store.delete(checkpointId);
    },
  };

  async function saveAppend(
    checkpointId: string,
    { savedCount, steps }: CheckpointAppend,
  ): Promise<AppendResult> {
    // An unreadable checkpoint is replaced (the file store keeps it aside); the run re-did its work.
    const existing = await store.load(checkpointId).catch((error: unknown) => {
      if (error instanceof CheckpointUnreadableError) return undefined;
      throw error;
    });
    const base = existing?.steps ?? [];
    if (base.length < savedCount) return 'missing-base';
    // Union by taskId: a retried append whose first attempt landed changes nothing. A step
    // recorded for another spec (its spec changed, so the run did it again) is replaced in place.
    const appended = new Map(steps.map((step) => [step.taskId, step]));
    const merged = base.map((old) => {
      const next = appended.get(old.taskId);
      if (!next) return old;
      appended.delete(old.taskId);
      const respecified = next.specDigest && old.specDigest && next.specDigest !== old.specDigest;
      return respecified ? next : old;
    });
    return store.save(checkpointId, {
      schemaVersion: WORKFLOW_CHECKPOINT_SCHEMA_VERSION,
      workflowId: checkpointId,
      steps: [...merged, ...appended.values()],
      checkpointMs: Date.now(),
    });
  }
}
