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

    async saveCheckpoint(checkpointId, steps) {
      return store.save(checkpointId, {
        schemaVersion: WORKFLOW_CHECKPOINT_SCHEMA_VERSION,
        workflowId: checkpointId,
        steps,
        checkpointMs: Date.now(),
      });
    },

    async deleteCheckpoint(checkpointId) {
      await store.delete(checkpointId);
    },
  };
}
