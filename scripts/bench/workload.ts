/** Seeded step delays, so TAO, the barrier variant and the ideal schedule run exactly the same work. */

/** mulberry32: a tiny, well-known seeded PRNG; reproducible across runs and machines. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface PipelineWork {
  items: number;
  stages: number;
  /** delays[item][stage] in ms */
  delays: number[][];
}

export const stepId = (stage: number, item: number) => `s${stage}-${item}`;

export function pipelineWork(
  items: number,
  stages: number,
  minMs: number,
  maxMs: number,
  seed: number,
): PipelineWork {
  const random = seededRandom(seed);
  const delays = Array.from({ length: items }, () =>
    Array.from({ length: stages }, () => Math.round(minMs + random() * (maxMs - minMs))),
  );
  return { items, stages, delays };
}

/** The script executor's rules giving every step its delay. */
export function scriptTasks(work: PipelineWork): Record<string, { delayMs: number }> {
  const tasks: Record<string, { delayMs: number }> = {};
  work.delays.forEach((row, item) =>
    row.forEach((delayMs, stage) => (tasks[stepId(stage, item)] = { delayMs })),
  );
  return tasks;
}
