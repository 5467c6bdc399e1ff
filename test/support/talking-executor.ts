import type { AgentStepSpec, StepOutcome } from '../../src/contracts';
import type { AgentExecutor, StepContext } from '../../src/executors/executor';

/**
 * Says `line 1`, `line 2`, ... one every `everyMs`, publishing its output so
 * far each time, until released: the test decides when the step ends, so a
 * slow machine cannot end it before the test has seen it talk.
 */
export class TalkingExecutor implements AgentExecutor {
  private released = false;
  /** When each line was published (Date.now), line 1 first: what the UI bench times the page against. */
  readonly saidAt: number[] = [];

  constructor(private readonly everyMs: number) {}

  release(): void {
    this.released = true;
  }

  concurrencyHint(): number {
    return 2;
  }

  async executeStep(spec: AgentStepSpec, context: StepContext): Promise<StepOutcome> {
    let text = '';
    for (let i = 1; !this.released; i++) {
      await new Promise((resolve) => setTimeout(resolve, this.everyMs));
      text += `line ${i}\n`;
      this.saidAt.push(Date.now());
      context.output(text);
    }
    return { taskId: spec.taskId, agent: spec.agent, sessionId: spec.taskId, output: text, success: true };
  }
}
