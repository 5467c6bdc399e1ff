/**
 * What a run's steps are doing right now, read from the server: each running
 * agent step's heartbeat details (see src/activities/heartbeat.ts), decoded
 * with the client's own data converter so encrypted or offloaded details read
 * as they were written. Nothing here adds history events.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { StepHeartbeatSchema } from '../activities/heartbeat';
import { STEP_ACTIVITY_TYPE } from '../activity-api';

export interface RunningStep {
  taskId: string;
  /** 1 on the first attempt, 2 on the first retry, ... */
  attempt: number;
  /** The tail of what the step has output so far (streamed model text, a program's stdout). */
  output?: string;
  /** The executor's own progress (an llm step's round and tokens so far). */
  info?: unknown;
  lastHeartbeat?: Date;
}

/** The run's running steps, and those of its running child workflows (a split run's partitions). */
export async function runningSteps(handle: WorkflowHandle): Promise<RunningStep[]> {
  const { raw } = await handle.describe();
  // A child that closed since the describe has no running steps to show.
  const children = (raw.pendingChildren ?? []).map((child) =>
    runningSteps(handle.client.getHandle(child.workflowId!)).catch(() => []),
  );
  const converter = handle.client.options.loadedDataConverter;
  const steps = await Promise.all(
    (raw.pendingActivities ?? [])
      .filter((activity) => activity.activityType?.name === STEP_ACTIVITY_TYPE)
      .map(async (activity): Promise<RunningStep | undefined> => {
        const payloads = activity.heartbeatDetails?.payloads;
        if (!payloads?.length) return undefined;
        const details = StepHeartbeatSchema.safeParse(
          await decodeFromPayloadsAtIndex(converter, 0, payloads),
        );
        if (!details.success) return undefined;
        const seconds = activity.lastHeartbeatTime?.seconds;
        return {
          taskId: details.data.taskId,
          attempt: activity.attempt ?? 1,
          ...(details.data.output !== undefined ? { output: details.data.output } : {}),
          ...(details.data.info !== undefined ? { info: details.data.info } : {}),
          ...(seconds != null ? { lastHeartbeat: new Date(Number(seconds) * 1000) } : {}),
        };
      }),
  );
  const own = steps.filter((step): step is RunningStep => step !== undefined);
  return [...own, ...(await Promise.all(children)).flat()];
}

/**
 * For log-style live views: each running step's latest output line, reported
 * again only when it changes. A tail can restart (an llm step streams one
 * answer per turn) and repeat itself, so lines are compared, not diffed.
 */
export class OutputFollower {
  private readonly shown = new Map<string, string>();

  /** `[taskId, line]` for every running step whose last line is new since the last call. */
  update(steps: readonly RunningStep[]): [string, string][] {
    const fresh: [string, string][] = [];
    for (const step of steps) {
      const line = lastLine(step.output ?? '');
      if (!line || this.shown.get(step.taskId) === line) continue;
      this.shown.set(step.taskId, line);
      fresh.push([step.taskId, line]);
    }
    return fresh;
  }
}

const LINE_CHARS = 160;

/** The last non-blank line, trimmed to what fits beside a task id on a terminal. */
export function lastLine(text: string): string {
  const line = text.trimEnd().split('\n').pop()?.trim() ?? '';
  return line.length > LINE_CHARS ? `${line.slice(0, LINE_CHARS - 1)}…` : line;
}
