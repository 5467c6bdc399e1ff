import type { AgentStepSpec, StepOutcome } from '../../src/contracts';
import type { AgentExecutor, StepContext } from '../../src/executors/executor';

/** Says `line 1`, `line 2`, ... one every `everyMs`, publishing its output so far each time. */
export class TalkingExecutor implements AgentExecutor {
  constructor(
    private readonly lines: number,
    private readonly everyMs: number,
  ) {}

  concurrencyHint(): number {
    return 2;
  }

  async executeStep(spec: AgentStepSpec, context: StepContext): Promise<StepOutcome> {
    let text = '';
    for (let i = 1; i <= this.lines; i++) {
      await new Promise((resolve) => setTimeout(resolve, this.everyMs));
      text += `line ${i}\n`;
      context.output(text);
    }
    return { taskId: spec.taskId, agent: spec.agent, sessionId: spec.taskId, output: text, success: true };
  }
}
