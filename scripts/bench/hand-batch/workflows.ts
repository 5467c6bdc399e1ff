/**
 * The batch section's hand-written Temporal batch: the shape of Temporal's
 * sliding-window batch sample (samples-go batch-sliding-window), with an
 * activity per item where the sample starts a child: read a page of items
 * through an activity, run one activity per item with at most `window` in
 * flight, continue as new every {@link ITEMS_PER_EXECUTION} items carrying
 * only the source offset and a count. Each item (its 2 KB prompt) is the
 * activity's input in history, as in the sample; its output goes to a file.
 */
import { condition, continueAsNew, proxyActivities } from '@temporalio/workflow';

interface Item {
  taskId: string;
  agent: string;
  prompt: string;
}

interface Page {
  items: Item[];
  /** Where the next page starts; null at the end of the file. */
  next: number | null;
}

interface Activities {
  readPage(page: { file: string; offset: number; limit: number }): Promise<Page>;
  echoItem(step: { item: Item; out: string }): Promise<void>;
}

export interface HandBatchInput {
  /** The JSONL file of items, and where reading goes on from (a byte offset). */
  file: string;
  offset?: number;
  /** The file the outputs are appended to. */
  out: string;
  window: number;
  done?: number;
}

const { readPage, echoItem } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute' });

/** As TAO's page for a limit of 100 (src/workflows/lib/by-reference.ts pageItemsFor). */
const PAGE_ITEMS = 200;
/** About 3 events and 2 KB of input an item: each history stays near 7,000 events and 5 MB. */
const ITEMS_PER_EXECUTION = 2_000;

export async function handBatch(input: HandBatchInput): Promise<number> {
  let offset: number | null = input.offset ?? 0;
  let done = input.done ?? 0;
  let started = 0;
  let running = 0;
  while (offset !== null && started < ITEMS_PER_EXECUTION) {
    const limit = Math.min(PAGE_ITEMS, ITEMS_PER_EXECUTION - started);
    const page: Page = await readPage({ file: input.file, offset, limit });
    for (const item of page.items) {
      await condition(() => running < input.window);
      running += 1;
      started += 1;
      void echoItem({ item, out: input.out }).then(() => {
        running -= 1;
        done += 1;
      });
    }
    offset = page.next;
  }
  // An activity cannot outlive its execution: the window drains before the next one starts.
  await condition(() => running === 0);
  if (offset !== null) await continueAsNew<typeof handBatch>({ ...input, offset, done });
  return done;
}
