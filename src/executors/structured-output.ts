/**
 * A step's `outputSchema`: the JSON Schema its final answer must satisfy.
 * Every executor that asks for structured output checks it here, so
 * "validated" means the same thing whichever runtime produced the answer.
 */
import { NonRetryableStepError } from './executor';

export type StructuredResult = { ok: true; value: unknown } | { ok: false; reason: string };
export type StructuredCheck = (answer: string) => StructuredResult;

/** Drafts 07 (the default when `$schema` is absent), 2019-09 and 2020-12; Ajv is loaded by the first step that asks. */
async function validatorFor(schema: Record<string, unknown>) {
  const declared = typeof schema.$schema === 'string' ? schema.$schema : '';
  const options = { allErrors: true, strict: false };
  if (declared.includes('2020-12')) return new (await import('ajv/dist/2020')).default(options);
  if (declared.includes('2019-09')) return new (await import('ajv/dist/2019')).default(options);
  return new (await import('ajv')).default(options);
}

async function compile(schema: Record<string, unknown>) {
  const ajv = await validatorFor(schema);
  try {
    return { ajv, validate: ajv.compile(schema) };
  } catch (error) {
    return { problem: (error as Error).message };
  }
}

/** Why Ajv cannot compile `schema`, or `undefined` when it can: for schemas a model wrote. */
export async function outputSchemaProblem(schema: Record<string, unknown>): Promise<string | undefined> {
  const compiled = await compile(schema);
  return 'problem' in compiled ? compiled.problem : undefined;
}

/**
 * Compiles the schema once per step. A fresh Ajv each time keeps a
 * long-running worker from accumulating every schema it has ever seen.
 * A schema that does not compile is the caller's mistake: not retryable.
 */
export async function compileOutputSchema(schema: Record<string, unknown>): Promise<StructuredCheck> {
  const compiled = await compile(schema);
  if ('problem' in compiled) {
    throw new NonRetryableStepError(
      `outputSchema is not a valid JSON Schema: ${compiled.problem}; fix the step's outputSchema`,
    );
  }
  const { ajv, validate } = compiled;
  return (answer) => {
    const parsed = extractJson(answer);
    if (!parsed.ok) return parsed;
    if (validate(parsed.value)) return parsed;
    return { ok: false, reason: `does not match outputSchema: ${ajv.errorsText(validate.errors)}` };
  };
}

const FENCED = /```(?:json)?\s*\n([\s\S]*?)\n?```/i;

/**
 * Models wrap JSON in prose or code fences however they are asked, so accept
 * the whole answer, else a fenced block, else the outermost braces/brackets.
 */
function extractJson(answer: string): StructuredResult {
  const text = answer.trim();
  const outer = /[[{]/.exec(text);
  const candidates = [
    text,
    FENCED.exec(text)?.[1],
    outer ? text.slice(outer.index, Math.max(text.lastIndexOf('}'), text.lastIndexOf(']')) + 1) : undefined,
  ];
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      return { ok: true, value: JSON.parse(candidate) };
    } catch {
      // try the next reading
    }
  }
  return { ok: false, reason: 'the answer is not JSON' };
}
