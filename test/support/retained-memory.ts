/** What the process holds reachable, for tests that measure a bound on memory. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Heap and buffer bytes still reachable after collections, not the garbage
 * waiting for one. Buffers are freed by a background sweep after a
 * collection, so it collects a few times with pauses for the sweep.
 */
export async function retainedBytes(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}
