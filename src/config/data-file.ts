import { readFile } from 'node:fs/promises';
import YAML from 'yaml';
import { z } from 'zod';
import { describeZodError } from '../contracts';

/** A user-supplied file was unusable; the message names the file, the field and the fix. */
export class InputError extends Error {
  override readonly name = 'InputError';
}

/**
 * Parses a YAML or JSON document (YAML is a superset, so one parser serves
 * both) and validates it, turning every failure into one line that names the
 * file and the offending field path.
 */
export function parseDataFile<S extends z.ZodTypeAny>(text: string, file: string, schema: S): z.output<S> {
  let data: unknown;
  try {
    data = YAML.parse(text, { prettyErrors: false });
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    throw new InputError(`${file}: not valid YAML or JSON (${reason}); fix the syntax`);
  }
  const parsed = schema.safeParse(data ?? {});
  if (!parsed.success) throw new InputError(`${file}: invalid ${describeZodError(parsed.error)}`);
  return parsed.data;
}

/** Reads a YAML/JSON config file and validates it; an unreadable file is an {@link InputError} too. */
export async function readDataFile<S extends z.ZodTypeAny>(file: string, schema: S): Promise<z.output<S>> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new InputError(`${file}: cannot read (${error.code ?? error.message}); check the path`);
  });
  return parseDataFile(text, file, schema);
}
