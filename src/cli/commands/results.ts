/**
 * `tao results`: the outcomes of a run that keeps them by reference, from
 * the outcome store beside its workers' checkpoints, printed as they are
 * read: a line per step, or with `--jsonl` a JSON object per line.
 */
import type { Command } from 'commander';
import { createOutcomeStore, results } from '../../client';
import { storeOption } from '../options';
import { resultLine } from '../render';
import { inspectedStoreRef } from './checkpoint';

interface Flags {
  store?: string;
  jsonl?: boolean;
  failed?: boolean;
}

export function registerResults(program: Command): void {
  storeOption(program.command('results'))
    .description("print a run's step outcomes kept in the store, in item order")
    .argument('<workflowId>', 'the run (its workflow id)')
    .option('--jsonl', 'one JSON object per line, {seq, outcome}, instead of a line of text per step')
    .option('--failed', 'only the steps that failed')
    .action(async (workflowId: string, flags: Flags) => {
      const store = createOutcomeStore(inspectedStoreRef(flags));
      try {
        let printed = 0;
        for await (const entry of results(store, workflowId, { failedOnly: flags.failed === true })) {
          console.log(flags.jsonl ? JSON.stringify(entry) : resultLine(entry.seq, entry.outcome));
          printed++;
        }
        if (printed > 0) return;
        if (flags.failed && (await store.list(workflowId, { limit: 1 })).length > 0) {
          console.error(`no step of ${workflowId} failed`);
          return;
        }
        throw new Error(
          `no outcomes of ${workflowId} in ${store.location}; a run keeps them there only when its items are by reference: give the store its workers use with --store (TAO_STORE)`,
        );
      } finally {
        await store.close?.();
      }
    });
}
