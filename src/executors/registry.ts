import { InputError } from '../config/data-file';
import type { AgentExecutor } from './executor';
import { ScriptExecutor } from './script';

/**
 * Builds the executor a worker runs from its reference:
 * `script` (echo every prompt) or `script:<file>` (scripted rules).
 */
export async function createExecutor(ref: string): Promise<AgentExecutor> {
  const [kind, ...rest] = ref.split(':');
  const arg = rest.join(':');
  switch (kind) {
    case 'script':
      return arg ? ScriptExecutor.fromFile(arg) : new ScriptExecutor();
    default:
      throw new InputError(`unknown executor "${ref}"; use script or script:<file>`);
  }
}
