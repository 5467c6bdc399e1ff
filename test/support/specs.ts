import type { AgentStepSpecInput, StepOutcome } from '../../src/contracts';

/** A step spec whose echo outcome (script executor default) is `do <taskId>`. */
export const spec = (taskId: string, agent = 'explore', prompt = `do ${taskId}`): AgentStepSpecInput => ({
  taskId,
  agent,
  description: '',
  prompt,
});

export const taskIds = (outcomes: readonly (StepOutcome | null)[]) => outcomes.map((o) => o?.taskId ?? null);

/** The outcome a finished step left in a checkpoint, as the script executor's echo would report it. */
export const echoed = (taskId: string, output: string, agent = 'explore'): StepOutcome => ({
  taskId,
  agent,
  sessionId: `task-run-${taskId}`,
  output,
  success: true,
});
