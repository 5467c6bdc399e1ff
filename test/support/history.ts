import type { WorkflowHandle } from '@temporalio/client';
import { type Payload, defaultPayloadConverter } from '@temporalio/common';
import type { AgentStepSpec } from '../../src/contracts';

/**
 * The taskIds of the agent steps the server has recorded as completed
 * (`ActivityTaskCompleted` in history). Read from the server, so it holds
 * whatever state the workers are in, even when none is alive: a step listed
 * here will never be scheduled again by this execution.
 */
export async function completedStepIds(handle: WorkflowHandle): Promise<string[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  const taskIdOfScheduled = new Map<string, string>();
  for (const event of events) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name !== 'executeAgentStep') continue;
    const spec = defaultPayloadConverter.fromPayload<AgentStepSpec>(scheduled.input!.payloads![0] as Payload);
    taskIdOfScheduled.set(String(event.eventId), spec.taskId);
  }
  return events.flatMap((event) => {
    const completed = event.activityTaskCompletedEventAttributes;
    const taskId = completed && taskIdOfScheduled.get(String(completed.scheduledEventId));
    return taskId ? [taskId] : [];
  });
}
