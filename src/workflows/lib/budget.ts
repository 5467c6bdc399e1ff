/**
 * A run's budget (as a3s's `WorkflowBudget`): tokens, steps and dollars spent
 * by this workflow's steps add up in workflow state, and once any limit is
 * reached no new step starts. A step counts once its first activity ended;
 * steps already running finish (their spend still counts). A step about to start while the
 * budget is spent waits, holding no slot, as long as other steps are still
 * running, since a `setBudget` Update may raise the limits meanwhile; when
 * none is left running it ends `success: false` with `budget exhausted (…)`,
 * which also ends its pipeline chain.
 *
 * The llm executor is handed the tokens left and ends its tool loop rather
 * than start a model call past them: a soft cap, since one call can overshoot.
 */
import { defineUpdate, metricMeter } from '@temporalio/workflow';
import { type Budget, type BudgetSpent, type StepUsage } from '../../contracts';
import { waitFor } from './controls';

export interface BudgetView {
  limits: Budget;
  spent: BudgetSpent;
}

export const setBudgetUpdate = defineUpdate<BudgetView, [Budget]>('setBudget');

/** One run's limits and spend; its context registers `setBudget`. */
export class RunBudget {
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

  /** A step's first activity starts under the budget: it runs until {@link leave}. */
  begin(): void {
    this.running += 1;
  }

  /** Its first activity ended: the step counts as spent, however it ended. */
  leave(): void {
    this.running -= 1;
    this.spent.steps += 1;
  }

  /**
   * A step found the budget spent (`why`) when about to start. With
   * `onExhausted: wait`, `ask` decides as a person would: `over` when they
   * let it past the limit, `again` when the limit was raised meanwhile.
   * Otherwise it waits while other steps still run, since their end or a
   * `setBudget` may change the answer (`again`), and is refused once none
   * does.
   */
  async settle(
    why: string,
    ask?: (why: string) => Promise<string | undefined>,
  ): Promise<'again' | 'over' | { refused: string }> {
    if (this.limits.onExhausted === 'wait' && ask) {
      const rejected = await ask(why);
      if (rejected) return { refused: rejected };
      return this.exhausted() ? 'over' : 'again';
    }
    if (this.running === 0) {
      metricMeter.createCounter('tao_budget_exhaustions', 'steps', 'steps not started: budget spent').add(1);
      return { refused: why };
    }
    await waitFor(() => !this.exhausted() || this.running === 0);
    return 'again';
  }

  /** Sets the limits (a combinator's `budget` option) and what earlier executions spent. */
  apply(limits: Budget | undefined, spent?: BudgetSpent): void {
    if (limits) this.limits = { ...this.limits, ...limits };
    if (spent) this.spent = { ...spent };
  }

  charge(before: StepUsage | undefined, now: StepUsage | undefined): StepUsage | undefined {
    if (!now) return before;
    this.spent.tokens += tokens(now) - tokens(before);
    this.spent.costUsd += (now.costUsd ?? 0) - (before?.costUsd ?? 0);
    return now;
  }
}

const tokens = (usage: StepUsage | undefined) => (usage?.inputTokens ?? 0) + (usage?.outputTokens ?? 0);
