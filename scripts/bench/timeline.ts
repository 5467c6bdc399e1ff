/**
 * `tao ui`'s run timeline on a big run: a 2,000-step parallel run in one
 * history (some steps retried, some delegating a task), closed, its page
 * opened in headless Chromium. Timed on the page's own clock, from navigation
 * to the frame in which the timeline's canvas has drawn every row; the
 * server's read of the history (its `/timeline` answer) and the page's drawing
 * are told apart by the page's resource timing. The first open reads the
 * history; a closed run's timeline is then kept, so later opens do not.
 */
import type { Client } from '@temporalio/client';
import { chromium } from 'playwright-core';
import type { ScriptFile } from '../../src/executors/script';
import { startUiServer } from '../../src/ui/server';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** One step in this many fails its first attempt; one in LEAD_EVERY delegates a task. */
const RETRY_EVERY = 25;
const LEAD_EVERY = 100;

export interface TimelineOpen {
  /** Navigation to the timeline drawn, on the page's clock. */
  openMs: number;
  /** The `/timeline` request, from the page asking to its last byte. */
  serverMs: number;
  /** From the answer's last byte to the drawn frame: parsing and drawing. */
  drawMs: number;
}

export interface TimelineRun {
  workflowId: string;
  steps: number;
  retried: number;
  delegated: number;
  /** The executions it took (it continues as new when a history fills), and their events. */
  executions: number;
  historyEvents: number;
}

export interface TimelineOpens {
  rows: number;
  /** The first open (the server reads the history), then the later ones (it keeps a closed run's). */
  cold: TimelineOpen;
  warm: TimelineOpen[];
}

/** The steps' script: zero-delay steps, every RETRY_EVERY-th retried once, every LEAD_EVERY-th a lead. */
export const timelineScript = (): ScriptFile => ({
  tasks: Object.fromEntries(
    Array.from({ length: 2000 }, (_, i) => i)
      .filter((i) => i % RETRY_EVERY === 1)
      .map((i) => [`step-${i}`, { failAttempts: 1 }]),
  ),
  agents: { lead: { delegate: [{ agent: 'bench', description: 'look', prompt: 'look closer' }] } },
});

interface PageWindow {
  document: { querySelector(selector: string): { dataset: Record<string, string> } | null };
  performance: {
    now(): number;
    getEntriesByType(type: string): { name: string; startTime: number; responseEnd: number }[];
  };
}

/** Runs the 2,000-step run to its end. */
export async function timelineRun(client: Client, taskQueue: string, steps: number): Promise<TimelineRun> {
  const workflowId = `bench-timeline-${Date.now()}`;
  const specs = Array.from({ length: steps }, (_, i) => ({
    taskId: `step-${i}`,
    agent: i % LEAD_EVERY === 0 ? 'lead' : 'bench',
    prompt: `step ${i}`,
  }));
  const handle = await client.workflow.start('parallelWorkflow', {
    taskQueue,
    workflowId,
    args: [{ specs, maxStepsPerRun: 2000, stepPolicy: { initialRetryIntervalMs: 200 } }],
  });
  await handle.result();
  let executions = 0;
  let historyEvents = 0;
  for (let runId: string | null | undefined = (await handle.describe()).runId; runId; executions++) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    historyEvents += history.events?.length ?? 0;
    runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
  }
  return {
    workflowId,
    steps,
    retried: specs.filter((_, i) => i % RETRY_EVERY === 1).length,
    delegated: specs.filter((s) => s.agent === 'lead').length,
    executions,
    historyEvents,
  };
}

/** Opens the run's page five times on a fresh UI server: the first reads the history, the rest are kept. */
export async function timelineOpens(client: Client, workflowId: string): Promise<TimelineOpens> {
  const ui = await startUiServer({ client, port: 0 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const open = async (): Promise<TimelineOpen & { rows: number }> => {
      const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
      try {
        await page.goto(`${ui.url}/#/run/${workflowId}`);
        const drawn = await page.waitForFunction(
          () => {
            const w = globalThis as unknown as PageWindow;
            const canvas = w.document.querySelector('canvas[data-drawn]');
            if (!canvas) return false;
            const at = w.performance.now();
            const read = w.performance.getEntriesByType('resource').find((e) => e.name.endsWith('/timeline'));
            return {
              openMs: at,
              serverMs: read ? read.responseEnd - read.startTime : NaN,
              drawMs: read ? at - read.responseEnd : NaN,
              rows: Number(canvas.dataset.drawn),
            };
          },
          undefined,
          { polling: 'raf', timeout: 60_000 },
        );
        return (await drawn.jsonValue()) as TimelineOpen & { rows: number };
      } finally {
        await page.close();
      }
    };
    const { rows, ...cold } = await open();
    const warm: TimelineOpen[] = [];
    for (let i = 0; i < 4; i++) {
      const again = await open();
      warm.push({ openMs: again.openMs, serverMs: again.serverMs, drawMs: again.drawMs });
    }
    // With no worker, the pages' progress queries wait out their 3 s deadline: not past the connection's close.
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    return { rows, cold, warm };
  } finally {
    await browser.close();
    await ui.close();
  }
}
