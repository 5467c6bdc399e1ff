/**
 * Declarative pipeline stages and loop rounds (the JSON forms startable from
 * the Temporal CLI) turned into specs. Mustache is logic-less and pure, so
 * rendering inside the workflow replays identically.
 */
import Mustache from 'mustache';
import type {
  AgentStepSpecInput,
  OutcomeCondition,
  PipelinePlan,
  RoundCondition,
  StageCondition,
  StageTemplate,
  StepOutcome,
} from '../contracts';
import type { PipelineStage } from './lib';
import { invalidInput } from './lib/inputs';

type View = { item: unknown; index: number; prev: StepOutcome | undefined };
type SpecTemplate = Omit<StageTemplate, 'when'>;

// Objects render as JSON rather than "[object Object]"; nothing is HTML-escaped.
const renderValue = (value: unknown): string =>
  typeof value === 'object' ? JSON.stringify(value) : String(value);
const render = (template: string, view: object): string =>
  Mustache.render(template, view, {}, { escape: renderValue });

const RENDERED_FIELDS = ['taskId', 'agent', 'description', 'prompt'] as const;

/** Rejects a template that mustache cannot parse before any step runs, naming the field. */
export function checkTemplates(templates: readonly SpecTemplate[], path = 'stages'): void {
  templates.forEach((template, index) => {
    for (const field of RENDERED_FIELDS) {
      try {
        Mustache.parse(template[field]);
      } catch (error) {
        throw invalidInput(`${path}.${index}.${field}: bad template (${(error as Error).message})`);
      }
    }
  });
}

function lookup(path: string, view: object): unknown {
  return path
    .split('.')
    .reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], view);
}

function holds(condition: StageCondition | OutcomeCondition, view: object): boolean {
  const actual = JSON.stringify(lookup(condition.field, view));
  return condition.equals !== undefined
    ? actual === JSON.stringify(condition.equals)
    : actual !== JSON.stringify(condition.notEquals);
}

function renderSpec(template: SpecTemplate, view: object): AgentStepSpecInput {
  return {
    taskId: render(template.taskId, view),
    agent: render(template.agent, view),
    description: render(template.description, view),
    prompt: render(template.prompt, view),
    ...(template.maxSteps !== undefined ? { maxSteps: template.maxSteps } : {}),
    ...(template.outputSchema !== undefined ? { outputSchema: template.outputSchema } : {}),
    ...(template.approval !== undefined ? { approval: template.approval } : {}),
    ...(template.cache !== undefined ? { cache: template.cache } : {}),
  };
}

/** A loop round's specs: each template over `{ round, outcomes }` (the previous round's outcomes, in order). */
export function loopRoundSpecs(
  templates: readonly SpecTemplate[],
  round: number,
  outcomes: readonly StepOutcome[],
): AgentStepSpecInput[] {
  return templates.map((template) => renderSpec(template, { round, outcomes }));
}

/** Whether a round's outcomes meet a loop's `until`. An empty round meets `every`, never `some`. */
export function roundMeets(condition: RoundCondition, outcomes: readonly StepOutcome[]): boolean {
  return condition.every
    ? outcomes.every((outcome) => holds(condition.every!, outcome))
    : outcomes.some((outcome) => holds(condition.some!, outcome));
}

const DEFAULT_MAX_PLANNED_ITEMS = 1_000;

/** The list at the plan's `forEach` in its step's outcome; nothing there is no items. */
export function itemsOf(outcome: StepOutcome, plan: PipelinePlan): unknown[] {
  const found = lookup(plan.forEach, outcome);
  if (found === undefined || found === null) return [];
  const where = `plan step ${plan.step.taskId}'s ${plan.forEach}`;
  if (!Array.isArray(found)) {
    throw invalidInput(`${where} is ${typeof found}, not a list; point plan.forEach at a list`);
  }
  const limit = plan.maxItems ?? DEFAULT_MAX_PLANNED_ITEMS;
  if (found.length > limit) {
    throw invalidInput(
      `${where} names ${found.length} items, over plan.maxItems ${limit}; raise it or plan fewer`,
    );
  }
  return found;
}

/**
 * Refuses items whose stages would give two steps one task id, naming both:
 * every stage whose task id template does not read `prev` is rendered for
 * every item now, before any step runs. A task id built from `prev` is
 * checked when its step is built (../lib/pipeline).
 */
export function checkDerivedTaskIds(
  stages: readonly StageTemplate[],
  items: readonly unknown[],
  indexOffset = 0,
): void {
  const seen = new Map<string, string>();
  stages.forEach((stage, s) => {
    // A stage whose `when` may skip an item may repeat an id it never runs; one built from `prev` is checked later.
    if (stage.when || readsPrev(stage.taskId)) return;
    items.forEach((item, i) => {
      const taskId = render(stage.taskId, { item, index: indexOffset + i });
      const here = `items.${indexOffset + i} stage ${s}`;
      const first = seen.get(taskId);
      if (first !== undefined) {
        throw invalidInput(
          `${here}: task id "${taskId}" repeats ${first}'s; every step of a run needs its own task id (put {{index}} or a field of {{item}} in stages.${s}.taskId)`,
        );
      }
      seen.set(taskId, here);
    });
  });
}

function readsPrev(template: string): boolean {
  const names = (tokens: unknown[]): string[] =>
    tokens.flatMap((token) => {
      const [kind, name, , , children] = token as [string, string, number, number, unknown[]?];
      return [...(kind === 'text' ? [] : [name]), ...(Array.isArray(children) ? names(children) : [])];
    });
  return names(Mustache.parse(template)).some((name) => name === 'prev' || name.startsWith('prev.'));
}

/** `indexOffset`: a partition's place in the whole run, so `{{index}}` is the same however the run is split. */
export function stageFromTemplate(template: StageTemplate, indexOffset = 0): PipelineStage<unknown> {
  return (prev, item, index) => {
    const view: View = { item, index: indexOffset + index, prev };
    if (template.when && !holds(template.when, view)) return undefined;
    return renderSpec(template, view);
  };
}
