import { InputError } from '../config/data-file';
import { CommandExecutor } from './command';
import type { AgentExecutor } from './executor';
import { LlmExecutor } from './llm/llm-executor';
import { ScriptExecutor } from './script';

const USAGE = 'use script, script:<file>, llm, llm:<file> or command:<file>';

/**
 * Builds the executor a worker runs from its reference:
 * `script` (echo every prompt) or `script:<file>` (scripted rules);
 * `llm` (models configured by env) or `llm:<file>` (a config file over env);
 * `command:<file>` (an external agent program per step).
 */
export async function createExecutor(ref: string): Promise<AgentExecutor> {
  const [kind, ...rest] = ref.split(':');
  const arg = rest.join(':');
  switch (kind) {
    case 'script':
      return arg ? ScriptExecutor.fromFile(arg) : new ScriptExecutor();
    case 'llm':
      return arg ? LlmExecutor.fromFile(arg) : LlmExecutor.create();
    case 'command':
      if (!arg) throw new InputError(`executor "command" needs its config file: command:<file>`);
      return CommandExecutor.fromFile(arg);
    default:
      throw new InputError(`unknown executor "${ref}"; ${USAGE}`);
  }
}
