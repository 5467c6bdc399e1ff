/**
 * A run's timeline and the runs list's duration and cost, in Chromium against
 * the UI server on the shared dev server, with a real worker running scripted
 * steps: one retried, one waiting for a person's approval after it ran, one
 * delegating a task, one priced. The timeline is read from history, so the
 * same after the run closed.
 */
import { approveStep } from '../../src/client';
import { runTimeline } from '../../src/client/timeline';
import { ScriptExecutor } from '../../src/executors/script';
import { startUiServer } from '../../src/ui/server';
import { chromiumPerFile, screenshot } from '../support/chromium';
import { eventually } from '../support/gate-executor';
import { spec } from '../support/specs';
import { closeDevClient, newNamespace, uniqueId, withWorker } from '../support/temporal';

const chromium = chromiumPerFile();
afterAll(closeDevClient);

const USAGE = { inputTokens: 1200, outputTokens: 340, model: 'gpt-test', latencyMs: 900, costUsd: 0.0123 };

test('the timeline shows each step’s attempts, waits and delegated tasks; the runs list its duration and cost', async () => {
  const executor = new ScriptExecutor({
    tasks: {
      flaky: { failAttempts: 1, delayMs: 300 },
      priced: { delayMs: 400, usage: USAGE },
      gate: { delayMs: 200 },
    },
    agents: { lead: { delayMs: 200, delegate: [{ agent: 'explore', description: 'a', prompt: 'read a' }] } },
  });
  // A namespace of its own: the runs list below must show this file's runs on its first page, whatever else a full test run started.
  const namespace = await newNamespace('ui-timeline', { waitingAttribute: true });
  await withWorker({ executor, namespace }, async ({ client, taskQueue }) => {
    const workflowId = uniqueId('ui-timeline');
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId,
      args: [
        {
          specs: [
            spec('flaky'),
            spec('priced'),
            { ...spec('gate'), approval: { after: true } },
            { ...spec('lead'), agent: 'lead' },
          ],
          stepPolicy: { initialRetryIntervalMs: 500 },
        },
      ],
    });
    const unpriced = uniqueId('ui-unpriced');
    await client.workflow.execute('parallelWorkflow', {
      taskQueue,
      workflowId: unpriced,
      args: [{ specs: [spec('plain')] }],
    });
    const ui = await startUiServer({ client, port: 0 });
    const page = await chromium.browser.newPage({ viewport: { width: 1300, height: 900 } });
    try {
      // While the run runs: `gate` ran and waits for its approval, an open span.
      await page.goto(`${ui.url}/#/run/${encodeURIComponent(workflowId)}`);
      const timeline = page.getByRole('region', { name: 'Timeline' });
      await timeline.getByText(/1 waited for a decision/).waitFor({ timeout: 30_000 });
      const open = await runTimeline(handle);
      const gateOpen = open.steps.find((s) => s.taskId === 'gate')!;
      expect(gateOpen.spans.at(-1)).toMatchObject({ kind: 'waiting', for: 'approval' });
      expect(gateOpen.spans.at(-1)!.end).toBeUndefined();

      await approveStep(handle, { taskId: 'gate' });
      await handle.result();

      // Closed: the same story, read from history alone.
      const { steps, start, end } = await runTimeline(handle);
      expect(steps.map((s) => [s.taskId, s.depth])).toEqual([
        ['flaky', 0],
        ['priced', 0],
        ['gate', 0],
        ['lead', 0],
        ['lead/task-1-1', 1],
      ]);
      const of = (taskId: string) => steps.find((s) => s.taskId === taskId)!;
      expect([of('flaky').attempts, of('flaky').retries, of('lead').retries]).toEqual([2, 1, 0]);
      expect(of('flaky').spans.map((s) => [s.kind, s.attempt])).toEqual([
        ['retrying', 1],
        ['running', 2],
      ]);
      const gate = of('gate').spans;
      expect(gate.map((s) => s.kind)).toEqual(expect.arrayContaining(['running', 'waiting']));
      const wait = gate.find((s) => s.kind === 'waiting')!;
      expect(wait.end! - wait.start).toBeGreaterThan(0);
      expect(of('lead').spans.map((s) => s.kind)).toEqual(
        expect.arrayContaining(['running', 'delegated', 'running']),
      );
      expect(of('lead/task-1-1').parentTaskId).toBe('lead');
      for (const step of steps)
        for (const span of step.spans) {
          expect(span.start).toBeGreaterThanOrEqual(start);
          expect(span.end).toBeLessThanOrEqual(end!);
        }

      // The page shows it once closed: a bar a step, its caption counting what happened.
      await page.reload();
      await page.waitForSelector('canvas[data-drawn="5"]');
      await expect(timeline.locator('.timeline-caption').textContent()).resolves.toMatch(
        /^5 steps over [\d.]+ s · 1 retried · 1 waited for a decision · 1 delegated$/,
      );
      // Hovering a bar names its step and span; clicking opens the step's page.
      const scroller = timeline.locator('.timeline-scroll');
      const { width } = (await scroller.boundingBox())!;
      // Where the page draws flaky's last attempt: 220 px of labels, then the run's time over the rest (16 px
      // spare), below a 22 px axis, 20 px a row.
      const attempt = of('flaky').spans.at(-1)!;
      const x = 220 + (((attempt.start + attempt.end!) / 2 - start) / (end! - start)) * (width - 236);
      const at = (n: number) => ({ x, y: 22 + 20 * n + 10 });
      // Hovered again until the tip shows: the page's refresher can shift the layout under a still pointer,
      // and Chrome's synthetic mousemove then lands off the bar and hides the tip (it did once in CI).
      const tip = timeline.locator('.timeline-tip');
      await eventually(async () => {
        await scroller.hover({ position: at(0) });
        const shown =
          (await tip.isVisible()) && /^flaky · attempt 2: .* · 1 retry$/.test(await tip.innerText());
        return shown ? true : undefined;
      });
      await screenshot(page, 'run-timeline');
      await scroller.click({ position: at(4) });
      await page.getByRole('heading', { name: 'Step lead/task-1-1' }).waitFor();

      // The runs list: each run's duration, and its cost where its steps were priced.
      await page.goto(`${ui.url}/#/runs`);
      const row = page.getByRole('row', { name: new RegExp(workflowId) });
      await expect(row.locator('td.duration').textContent()).resolves.toMatch(/^\d+(\.\d)? s$/);
      await row.locator('td.cost').getByText('$0.0123').waitFor();
      const plain = page.getByRole('row', { name: new RegExp(unpriced) });
      await plain.locator('td.cost').getByText('—').waitFor();
      await expect(row.locator('.chip').textContent()).resolves.toBe('Completed');
      await screenshot(page, 'runs-cost');
    } finally {
      await page.close();
      await ui.close();
    }
  });
}, 120_000);
