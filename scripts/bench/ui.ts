/**
 * `tao ui` on a big run: a 10,000-step parallel run (split into child runs of
 * 2,000 steps, the most one history holds) whose steps all wait for approval,
 * so every row is there at once while nothing runs. Headless Chromium opens
 * the run's page and its first partition's, and scrolls the 2,000 rows while
 * the page refreshes every second.
 */
import type { Client } from '@temporalio/client';
import { chromium } from 'playwright-core';
import { startUiServer } from '../../src/ui/server';
import type { TalkingExecutor } from '../../test/support/talking-executor';

export interface UiFigures {
  steps: number;
  runPageMs: number;
  partitionRows: number;
  partitionPageMs: number;
  scrollFrames: number;
  frameP95Ms: number;
  frameMaxMs: number;
}

export interface LiveOutputFigures {
  lines: number;
  everyMs: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

/** What the page-side observer keeps on the page's window: when each output text was first shown. */
interface ObservedWindow {
  shown: { text: string; at: number }[];
  document: { body: unknown; querySelector(selector: string): { textContent: string | null } | null };
  MutationObserver: new (callback: () => void) => {
    observe(target: unknown, options: Record<string, boolean>): void;
  };
}

/** What the scroll measurement uses of the page's window (Node's types know no DOM). */
interface BrowserWindow {
  innerHeight: number;
  scrollY: number;
  scrollBy(x: number, y: number): void;
  requestAnimationFrame(callback: (now: number) => void): void;
  document: { body: { scrollHeight: number } };
}

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function uiOnBigRun(client: Client, taskQueue: string, steps: number): Promise<UiFigures> {
  const workflowId = `bench-ui-${Date.now()}`;
  const specs = Array.from({ length: steps }, (_, i) => ({
    taskId: `step-${i}`,
    agent: 'bench',
    prompt: `step ${i}`,
    approval: { before: true },
  }));
  const handle = await client.workflow.start('parallelWorkflow', {
    taskQueue,
    workflowId,
    args: [{ specs, maxStepsPerRun: 2000 }],
  });
  const ui = await startUiServer({ client, port: 0 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    // Every partition holds its steps, all waiting, before the page is timed.
    await waitFor(async () => {
      const progress = await handle.query<{ partitions?: { workflowId: string; status: string }[] }>(
        'progress',
      );
      const children = progress.partitions ?? [];
      if (!children.length || children.some((p) => p.status !== 'running')) return false;
      const first = await client.workflow
        .getHandle(children[0]!.workflowId)
        .query<{ totals: { waiting: number } }>('progress');
      return first.totals.waiting > 0;
    });
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    let start = performance.now();
    await page.goto(`${ui.url}/#/run/${workflowId}`);
    const firstChild = page.getByRole('region', { name: 'Partitions' }).getByRole('link').first();
    await firstChild.waitFor();
    const runPageMs = performance.now() - start;

    const childId = (await firstChild.textContent())!;
    start = performance.now();
    await page.goto(`${ui.url}/#/run/${encodeURIComponent(childId)}`);
    await page.reload();
    await page.locator('table.steps tbody tr').nth(1999).waitFor({ state: 'attached' });
    const partitionPageMs = performance.now() - start;
    const partitionRows = await page.locator('table.steps tbody tr').count();

    // Scroll to the bottom at 60 px a frame, recording every frame's length; refreshes keep arriving meanwhile.
    const frames = await page.evaluate(
      () =>
        new Promise<number[]>((resolve) => {
          const w = globalThis as unknown as BrowserWindow;
          const lengths: number[] = [];
          let last = performance.now();
          const step = (now: number) => {
            lengths.push(now - last);
            last = now;
            w.scrollBy(0, 60);
            if (w.innerHeight + w.scrollY >= w.document.body.scrollHeight - 1 || lengths.length > 2000)
              resolve(lengths.slice(1));
            else w.requestAnimationFrame(step);
          };
          w.requestAnimationFrame(step);
        }),
    );
    const sorted = [...frames].sort((a, b) => a - b);
    return {
      steps,
      runPageMs,
      partitionRows,
      partitionPageMs,
      scrollFrames: frames.length,
      frameP95Ms: sorted[Math.floor(sorted.length * 0.95)] ?? 0,
      frameMaxMs: sorted.at(-1) ?? 0,
    };
  } finally {
    await browser.close();
    await ui.close();
    await handle.terminate('benchmark done');
  }
}

/**
 * The "latest output of a running step, live, with no reload, 2 s or
 * faster": a step publishes `line 1`, `line 2`, ... (TalkingExecutor), its
 * run's page is open, and for each line the delay is from the executor
 * publishing it to the page first showing it or a later line (a later line
 * shown first supersedes it as the latest output). Node's and the page's
 * Date.now read the same machine clock.
 */
export async function liveOutputLatency(
  client: Client,
  taskQueue: string,
  talker: TalkingExecutor,
  lines: number,
  everyMs: number,
): Promise<LiveOutputFigures> {
  const workflowId = `bench-ui-live-${Date.now()}`;
  const handle = await client.workflow.start('parallelWorkflow', {
    taskQueue,
    workflowId,
    args: [{ specs: [{ taskId: 'talker', agent: 'bench', prompt: 'talk' }] }],
  });
  const ui = await startUiServer({ client, port: 0 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.goto(`${ui.url}/#/run/${workflowId}`);
    const output = page.getByRole('row', { name: /talker/ }).locator('td.output');
    await output.getByText(/^line \d+$/).waitFor({ timeout: 30_000 });
    // Time only lines published after the observer is in place.
    const first = talker.saidAt.length + 1;
    await page.evaluate(() => {
      const w = globalThis as unknown as ObservedWindow;
      w.shown = [];
      const note = () => {
        const text = w.document.querySelector('td.output')?.textContent ?? '';
        if (text !== w.shown.at(-1)?.text) w.shown.push({ text, at: Date.now() });
      };
      new w.MutationObserver(note).observe(w.document.body, {
        subtree: true,
        childList: true,
        characterData: true,
      });
    });
    const last = first + lines - 1;
    await output.getByText(`line ${last}`, { exact: true }).waitFor({ timeout: lines * everyMs + 30_000 });
    const shown = await page.evaluate(() => (globalThis as unknown as ObservedWindow).shown);
    const delays = [];
    for (let line = first; line <= last; line++) {
      const seen = shown.find((s) => Number(/^line (\d+)$/.exec(s.text)?.[1]) >= line);
      delays.push(seen!.at - talker.saidAt[line - 1]!);
    }
    const sorted = delays.sort((a, b) => a - b);
    return {
      lines,
      everyMs,
      p50Ms: sorted[Math.floor(sorted.length * 0.5)]!,
      p95Ms: sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!,
      maxMs: sorted.at(-1)!,
    };
  } finally {
    talker.release();
    await browser.close();
    await ui.close();
    await handle.result().catch(() => handle.terminate('benchmark done'));
  }
}

async function waitFor(probe: () => Promise<boolean>, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error('the big run did not reach its waiting steps in time');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
