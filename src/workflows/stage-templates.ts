/**
 * Declarative pipeline stages (the JSON form startable from the Temporal CLI)
 * turned into stage functions. Mustache is logic-less and pure, so rendering
 * inside the workflow replays identically.
 */
import Mustache from 'mustache';
import type { StageCondition, StageTemplate, StepOutcome } from '../contracts';
import type { PipelineStage } from './lib';
import { invalidInput } from './lib/steps';

type View = { item: unknown; index: number; prev: StepOutcome | undefined };

// Objects render as JSON rather than "[object Object]"; nothing is HTML-escaped.
const renderValue = (value: unknown): string =>
  typeof value === 'object' ? JSON.stringify(value) : String(value);
const render = (template: string, view: View): string =>
  Mustache.render(template, view, {}, { escape: renderValue });

const RENDERED_FIELDS = ['taskId', 'agent', 'description', 'prompt'] as const;

/** Rejects a template that mustache cannot parse before any step runs, naming the field. */
export function checkTemplates(stages: readonly StageTemplate[]): void {
  stages.forEach((stage, index) => {
    for (const field of RENDERED_FIELDS) {
      try {
        Mustache.parse(stage[field]);
      } catch (error) {
        throw invalidInput(`stages.${index}.${field}: bad template (${(error as Error).message})`);
      }
    }
  });
}

function lookup(path: string, view: View): unknown {
  return path
    .split('.')
    .reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], view);
}

function holds(condition: StageCondition, view: View): boolean {
  const actual = JSON.stringify(lookup(condition.field, view));
  return condition.equals !== undefined
    ? actual === JSON.stringify(condition.equals)
    : actual !== JSON.stringify(condition.notEquals);
}

/** `indexOffset`: a partition's place in the whole run, so `{{index}}` is the same however the run is split. */
export function stageFromTemplate(template: StageTemplate, indexOffset = 0): PipelineStage<unknown> {
  return (prev, item, index) => {
    const view: View = { item, index: indexOffset + index, prev };
    if (template.when && !holds(template.when, view)) return undefined;
    return {
      taskId: render(template.taskId, view),
      agent: render(template.agent, view),
      description: render(template.description, view),
      prompt: render(template.prompt, view),
      ...(template.maxSteps !== undefined ? { maxSteps: template.maxSteps } : {}),
      ...(template.outputSchema !== undefined ? { outputSchema: template.outputSchema } : {}),
      ...(template.approval !== undefined ? { approval: template.approval } : {}),
    };
  };
}
