import { Context } from '@temporalio/activity';
import type { TaoActivities } from '../activity-api';
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

    async saveCheckpoint(checkpointId, { savedCount, steps }) {
      // An unreadable checkpoint is replaced (the file store keeps it aside); the run re-did its work.
      const existing = await store.load(checkpointId).catch((error: unknown) => {
        if (error instanceof CheckpointUnreadableError) return undefined;
        throw error;
      });
      const base = existing?.steps ?? [];
      if (base.length < savedCount) return 'missing-base';
      // Union by taskId: a retried append whose first attempt landed changes nothing.
      const known = new Set(base.map((step) => step.taskId));
      return store.save(checkpointId, {
        schemaVersion: WORKFLOW_CHECKPOINT_SCHEMA_VERSION,
        workflowId: checkpointId,
        steps: [...base, ...steps.filter((step) => !known.has(step.taskId))],
        checkpointMs: Date.now(),
      });
    },

    async deleteCheckpoint(checkpointId) {
      await store.delete(checkpointId);
    },
  };
}
