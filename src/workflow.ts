/**
 * `<pkg>/workflow`: what a workflow file imports. The combinators run inside
 * your workflow code, deterministically, and schedule TAO's activities, which
 * `TaoPlugin` registers on the worker. Nothing here touches Node APIs, so
 * Temporal's workflow bundler takes it as it is.
 */
export * from './workflows/lib';
export type {
  AgentStepSpec,
  AgentStepSpecInput,
  Approval,
  Budget,
  BudgetSpent,
  StepOutcome,
  StepPolicy,
  StepUsage,
} from './contracts';
