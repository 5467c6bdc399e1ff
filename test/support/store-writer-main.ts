/**
 * Entry of a process that records checkpoint steps in a file store without
 * pause, for a test to SIGKILL it mid-write (test/stores/file-store-crash.test.ts).
 * It carries on from whatever the store holds, so each new process continues
 * where the killed one left off. Every checkpoint `run-<n>` takes
 * {@link STEPS_PER_CHECKPOINT} steps of {@link OUTPUT_CHARS} characters, enough
 * for its journal to be folded into the a3s file a few times; it prints
 * `ack <checkpoint> <task>` only once the store's append resolved.
 */
import { createStore } from '../../src/stores/registry';
import { echoed } from './specs';

export const STEPS_PER_CHECKPOINT = 16;
/**
 * The first step writes the a3s file; the journal is folded into it past
 * 256 KiB and then past twice the file: after steps 3 and 12 at this size.
 */
export const OUTPUT_CHARS = 100_000;

export const checkpointName = (n: number) => `run-${n}`;
export const taskName = (i: number) => `step-${i}`;
/** The one outcome a task may have: any other (a cut output, another task's) was written in part. */
export const outcomeOf = (taskId: string) =>
  echoed(taskId, `${taskId}:`.repeat(OUTPUT_CHARS / 10).slice(0, OUTPUT_CHARS));

async function main(): Promise<void> {
  // As a worker opens it, clearing what a killed writer left.
  const store = await createStore(`file:${process.argv[2]!}`);
  for (let n = 0; ; n++) {
    const checkpointId = checkpointName(n);
    const held = (await store.load(checkpointId))?.steps.length ?? 0;
    for (let i = held; i < STEPS_PER_CHECKPOINT; i++) {
      const taskId = taskName(i);
      const result = await store.append(checkpointId, {
        savedCount: i,
        steps: [{ taskId, outcome: outcomeOf(taskId) }],
      });
      if (result !== 'saved') throw new Error(`append ${checkpointId}/${taskId}: ${result}`);
      // Written synchronously: the parent must never miss an ack of a step that landed.
      process.stdout.write(`ack ${checkpointId} ${taskId}\n`);
    }
  }
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
  });
}
