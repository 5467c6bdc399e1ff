import { Context } from '@temporalio/activity';
import type { TaoActivities } from '../activity-api';
import { checkpointSaveMetric } from '../telemetry/metrics';
import { CheckpointUnreadableError, type SessionStore, stepKey } from '../stores/session-store';

export function createCheckpointActivities(
  store: SessionStore,
): Pick<TaoActivities, 'loadCheckpoint' | 'loadCheckpointIndex' | 'saveCheckpoint' | 'deleteCheckpoint'> {
  /** What `read` found; unreadable data will not heal on retry, so it is reported and the workflow re-runs everything. */
  async function readCheckpoint<S>(
    checkpointId: string,
    read: () => Promise<S[] | undefined>,
  ): Promise<
    { status: 'none' } | { status: 'loaded'; steps: S[] } | { status: 'unreadable'; reason: string }
  > {
    try {
      const steps = await read();
      return steps ? { status: 'loaded', steps } : { status: 'none' };
    } catch (error) {
      if (!(error instanceof CheckpointUnreadableError)) throw error;
      Context.current().log.warn('checkpoint unreadable; the run starts from scratch', {
        checkpointId,
        reason: error.message,
      });
      return { status: 'unreadable', reason: error.message };
    }
  }

  return {
    loadCheckpoint(checkpointId, taskIds) {
      const wanted = taskIds && new Set(taskIds);
      return readCheckpoint(checkpointId, async () => {
        const steps = (await store.load(checkpointId))?.steps;
        return wanted ? steps?.filter((step) => wanted.has(step.taskId)) : steps;
      });
    },

    loadCheckpointIndex(checkpointId) {
      return readCheckpoint(checkpointId, async () =>
        store.loadIndex
          ? store.loadIndex(checkpointId)
          : (await store.load(checkpointId))?.steps.map(stepKey),
      );
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
