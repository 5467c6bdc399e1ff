import { Context } from '@temporalio/activity';
import type { CheckpointLoad, TaoActivities } from '../activity-api';
import { checkpointSaveMetric } from '../telemetry/metrics';
import { CheckpointUnreadableError, type SessionStore } from '../stores/session-store';

export function createCheckpointActivities(
  store: SessionStore,
): Pick<TaoActivities, 'loadCheckpoint' | 'loadCheckpointIndex' | 'saveCheckpoint' | 'deleteCheckpoint'> {
  async function loadCheckpoint(checkpointId: string, taskIds?: string[]): Promise<CheckpointLoad> {
    try {
      const checkpoint = await store.load(checkpointId);
      if (!checkpoint) return { status: 'none' };
      const wanted = taskIds && new Set(taskIds);
      return {
        status: 'loaded',
        steps: wanted ? checkpoint.steps.filter((step) => wanted.has(step.taskId)) : checkpoint.steps,
      };
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
  }

  return {
    loadCheckpoint,

    async loadCheckpointIndex(checkpointId) {
      const loaded = await loadCheckpoint(checkpointId);
      if (loaded.status !== 'loaded') return loaded;
      const steps = loaded.steps.map(({ taskId, specDigest }) => ({
        taskId,
        ...(specDigest !== undefined ? { specDigest } : {}),
      }));
      return { status: 'loaded', steps };
    },

    async saveCheckpoint(checkpointId, append) {
      const meter = Context.current().metricMeter;
      try {
        const result = await store.append(checkpointId, append);
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
}
