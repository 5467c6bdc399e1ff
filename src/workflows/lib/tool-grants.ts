/**
 * Tool calls people allowed for the rest of a run ("approve for this run",
 * see ./approvals), in the order granted; each grant once. Every step's
 * attempts are handed them (their executor matches calls against them), and
 * they are carried across continue-as-new.
 *
 * A split run shares them: a partition child that gets a grant signals its
 * parent (`toolGrant`), and a parent hands each new grant to its running
 * children (./partition); a child started later has them in its input.
 * Grants are idempotent, so the echo a child's own grant makes comes back
 * as nothing new and goes no further.
 */
import { defineSignal } from '@temporalio/workflow';
import { type ToolGrant, ToolGrantSchema } from '../../contracts';
import { subscribe } from './controls';

export const toolGrantSignal = defineSignal<[ToolGrant]>('toolGrant');

export class ToolGrants {
  private readonly granted: ToolGrant[] = [];
  private readonly listeners: ((grant: ToolGrant) => void)[] = [];

  get count(): number {
    return this.granted.length;
  }

  all(): ToolGrant[] {
    return [...this.granted];
  }

  /** Adds `grant` unless it is here already (a signal's payload is checked first); true when it was new. */
  add(grant: unknown): boolean {
    const parsed = ToolGrantSchema.safeParse(grant);
    if (!parsed.success) return false;
    const text = JSON.stringify(parsed.data);
    if (this.granted.some((given) => JSON.stringify(given) === text)) return false;
    this.granted.push(parsed.data);
    for (const listener of this.listeners) listener(parsed.data);
    return true;
  }

  /** Calls `listener` with each new grant, until the returned function is called. */
  onAdd(listener: (grant: ToolGrant) => void): () => void {
    return subscribe(this.listeners, listener);
  }
}
