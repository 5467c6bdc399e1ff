/**
 * A run's budget (as a3s's `WorkflowBudget`): tokens, steps and dollars spent
 * by this workflow's steps add up in workflow state, and once any limit is
 * reached no new step starts. Steps already running finish (their spend still
 * counts). A step about to start while the budget is spent waits as long as
 * other steps are still running, since a `setBudget` Update may raise the
 * limits meanwhile; when none is left running it ends `success: false` with
 * `budget exhausted (…)`, which also ends its pipeline chain.
 *
 * The llm executor is handed the tokens left and ends its tool loop rather
 * than start a model call past them: a soft cap, since one call can overshoot.
 */
import { defineUpdate, metricMeter, setHandler } from '@temporalio/workflow';
import {
  type Budget,
  BudgetSchema,
  type BudgetSpent,
  type StepUsage,
  describeZodError,
} from '../../contracts';
import { waitFor } from './controls';
import { progressBoard } from './progress';

export interface BudgetView {
  limits: Budget;
  spent: BudgetSpent;
}

export const setBudgetUpdate = defineUpdate<BudgetView, [Budget]>('setBudget');

class RunBudget {
  limits: Budget = {};
  spent: BudgetSpent = { tokens: 0, steps: 0, costUsd: 0 };
  private running = 0;

  get active(): boolean {
    return Object.keys(this.limits).length > 0;
  }

  view(): BudgetView {
    return { limits: { ...this.limits }, spent: { ...this.spent } };
  }

  /** `budget exhausted (tokens 5210/5000)` once a limit is reached, else undefined. */
  exhausted(): string | undefined {
    const { maxTokens, maxSteps, maxCostUsd } = this.limits;
    const over = [
      ...(maxTokens !== undefined && this.spent.tokens >= maxTokens
        ? [`tokens ${this.spent.tokens}/${maxTokens}`]
        : []),
      ...(maxSteps !== undefined && this.spent.steps >= maxSteps
        ? [`steps ${this.spent.steps}/${maxSteps}`]
        : []),
      ...(maxCostUsd !== undefined && this.spent.costUsd >= maxCostUsd
        ? [`cost $${this.spent.costUsd.toFixed(4)}/$${maxCostUsd}`]
        : []),
    ];
    return over.length ? `budget exhausted (${over.join(', ')})` : undefined;
  }

  /** Tokens a step may still use, when tokens are limited. */
  tokensLeft(): number | undefined {
    return this.limits.maxTokens === undefined
      ? undefined
      : Math.max(0, this.limits.maxTokens - this.spent.tokens);
  }

  /**
   * Runs a step under the budget: `start` is not called once the budget is
   * spent (the refusal's message is returned instead), and the step's usage is
   * added when it ends. With `onExhausted: wait`, `ask` decides instead: it
   * returns once the step may go on, or why it may not.
   */
  async spend<T>(
    start: () => Promise<T>,
    usageOf: (result: T) => StepUsage | undefined,
    ask?: (why: string) => Promise<string | undefined>,
  ): Promise<{ value: T } | { refused: string }> {
    for (;;) {
      const why = this.exhausted();
      if (!why) break;
      if (this.limits.onExhausted === 'wait' && ask) {
        const rejected = await ask(why);
        if (rejected) return { refused: rejected };
        break;
      }
      if (this.running === 0) {
        metricMeter
          .createCounter('tao_budget_exhaustions', 'steps', 'steps not started: budget spent')
          .add(1);
        return { refused: why };
      }
      await waitFor(() => !this.exhausted() || this.running === 0);
    }
    this.running += 1;
    try {
      const value = await start();
      this.charge(undefined, usageOf(value));
      return { value };
    } finally {
      // A step that ran counts, however it ended.
      this.spent.steps += 1;
      this.running -= 1;
    }
  }

  /**
   * Adds what a step spent since its usage was `before` (a delegating step
   * reports its spend so far each time it stops): later attempts of a step
   * already counted. Returns the usage to measure from next time.
   */
  charge(before: StepUsage | undefined, now: StepUsage | undefined): StepUsage | undefined {
    if (!now) return before;
    this.spent.tokens += tokens(now) - tokens(before);
    this.spent.costUsd += (now.costUsd ?? 0) - (before?.costUsd ?? 0);
    return now;
  }
}

const tokens = (usage: StepUsage | undefined) => (usage?.inputTokens ?? 0) + (usage?.outputTokens ?? 0);

let budget: RunBudget | undefined;

/** This execution's budget, with the `setBudget` handler registered on first use. */
export function runBudget(): RunBudget {
  if (budget) return budget;
  const created = new RunBudget();
  budget = created;
  progressBoard().budget = () => (created.active ? created.view() : undefined);
  setHandler(
    setBudgetUpdate,
    (limits) => {
      created.limits = { ...created.limits, ...BudgetSchema.parse(limits) };
      return created.view();
    },
    {
      validator: (limits) => {
        const parsed = BudgetSchema.safeParse(limits);
        if (!parsed.success) throw new Error(`setBudget: ${describeZodError(parsed.error)}`);
        if (Object.keys(parsed.data).length === 0) {
          throw new Error('setBudget needs at least one of maxTokens, maxSteps, maxCostUsd');
        }
      },
    },
  );
  return created;
}

/** Sets the run's limits (a combinator's `budget` option) and what earlier executions spent. */
export function applyBudget(limits: Budget | undefined, spent?: BudgetSpent): void {
  if (!limits && !spent) return;
  const current = runBudget();
  if (limits) current.limits = { ...current.limits, ...limits };
  if (spent) current.spent = { ...spent };
}
