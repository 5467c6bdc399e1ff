/**
 * The run's steps waiting for a decision (approval before or after, a spent
 * budget's wait), kept in the search attribute `TaoWaitingSteps` so that an
 * inbox finds them with one visibility query (`TaoWaitingSteps IS NOT NULL`)
 * instead of asking every running workflow in the namespace.
 *
 * Self-contained and deterministic: the caller says when a step starts and
 * stops waiting; the attribute is upserted only when the listed ids change,
 * and removed when none waits. The server must know the attribute (`tao dev`
 * and `tao setup --address` register it; see docs/deploy.md): an upsert of an
 * unknown attribute fails the workflow task, so the run stops at its first
 * wait until it is registered, then goes on.
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { upsertSearchAttributes } from '@temporalio/workflow';

export const WAITING_STEPS_ATTRIBUTE = 'TaoWaitingSteps';
export const waitingStepsKey = defineSearchAttributeKey(WAITING_STEPS_ATTRIBUTE, 'KEYWORD_LIST');

/**
 * The attribute is a hint, not the record: the inbox asks the run itself for
 * its waiting steps, so it needs the attribute set exactly while any step
 * waits, not every id in it. Temporal fails the whole workflow (not only its
 * task: temporalio/temporal#1439) on a search attribute value over
 * `limit.searchAttributesSizeOfValue`, 2 KB by default, so the list holds at most {@link MAX_LISTED} ids, in id order,
 * each cut to {@link MAX_ID_CHARS} characters, within {@link MAX_LIST_BYTES}
 * bytes of JSON: half that limit. The first id always fits.
 */
export const MAX_LISTED = 16;
export const MAX_ID_CHARS = 64;
export const MAX_LIST_BYTES = 1024;

/** What the attribute lists for these waiting ids (empty: removed). */
export function listedIds(waiting: Iterable<string>): string[] {
  const listed: string[] = [];
  let bytes = 2; // []
  for (const id of [...waiting].sort()) {
    if (listed.length === MAX_LISTED) break;
    const shown = [...id].slice(0, MAX_ID_CHARS).join('');
    const size = utf8Bytes(JSON.stringify(shown)) + (listed.length > 0 ? 1 : 0);
    if (bytes + size > MAX_LIST_BYTES) break;
    listed.push(shown);
    bytes += size;
  }
  return listed;
}

function utf8Bytes(text: string): number {
  let bytes = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/** One per execution: told when a step starts or stops waiting, it keeps the attribute up to date. */
export class WaitingStepsAttribute {
  private readonly waiting = new Set<string>();
  private shown: string[] = [];

  constructor(private readonly upsert: typeof upsertSearchAttributes = upsertSearchAttributes) {}

  started(taskId: string): void {
    this.waiting.add(taskId);
    this.sync();
  }

  stopped(taskId: string): void {
    this.waiting.delete(taskId);
    this.sync();
  }

  private sync(): void {
    const listed = listedIds(this.waiting);
    if (listed.length === this.shown.length && listed.every((id, i) => id === this.shown[i])) return;
    this.shown = listed;
    this.upsert([{ key: waitingStepsKey, value: listed.length > 0 ? listed : null }]);
  }
}
