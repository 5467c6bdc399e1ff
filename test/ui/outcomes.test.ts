/**
 * A batch run's page (issue #33): its summary (so far while it runs, its
 * result after) and its outcomes paged from the file outcome store its
 * worker puts them in, in Chromium against a real batch run on the dev
 * server; and the outcomes API over HTTP: keyset pages, the failed filter,
 * one outcome whole, and a bad cursor refused in one line.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunSummary, StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { FileOutcomeStore } from '../../src/outcomes';
import { startUiServer } from '../../src/ui/server';
import { chromiumPerFile, focused, screenshot } from '../support/chromium';
import { GateExecutor } from '../support/gate-executor';
import { useTempDir } from '../support/temp-dir';
import { freePort } from '../../src/local/dev-server';
import { startTao, stopTaoProcesses } from '../support/cli';
import { closeDevClient, devClient, devServerAddress, uniqueId, withWorker } from '../support/temporal';

const chromium = chromiumPerFile();
afterAll(closeDevClient);
afterAll(stopTaoProcesses);
const tempDir = useTempDir('tao-ui-outcomes');

const STEPS = 300;
/** Every seventh step fails, from the fourth: 43 of 300. */
const fails = (seq: number) => seq % 7 === 3;
const FAILED = Array.from({ length: STEPS }, (_, seq) => seq).filter(fails);
const USAGE = { inputTokens: 100, outputTokens: 20, model: 'gpt-test', latencyMs: 10, costUsd: 0.001 };

test('a batch run’s page: its counts so far and then its result, its outcomes a page at a time, failed only, one opened whole', async () => {
  const source = join(tempDir(), 'specs.jsonl');
  const specs = Array.from({ length: STEPS }, (_, seq) => ({
    taskId: `t${seq}`,
    agent: fails(seq) ? 'broken' : 'explore',
    prompt: `p${seq}`,
  }));
  writeFileSync(source, `${specs.map((spec) => JSON.stringify(spec)).join('\n')}\n`);
  const executor = new ScriptExecutor({
    concurrency: 8,
    agents: {
      explore: { output: 'read {{taskId}}\nand more', delayMs: 150, usage: USAGE },
      broken: { success: false, output: 'no: {{taskId}} broke', delayMs: 150 },
    },
  });
  const dir = join(tempDir(), 'store');
  await withWorker({ executor, outcomes: new FileOutcomeStore(dir) }, async ({ client, taskQueue }) => {
    const workflowId = uniqueId('ui-batch');
    const handle = await client.workflow.start('batchWorkflow', {
      taskQueue,
      workflowId,
      args: [{ source: { jsonl: source }, concurrency: 8 }],
    });
    // The page reads the store as `tao ui --store file:<dir>` does: a store of its own on the workers' folder.
    const ui = await startUiServer({ client, port: 0, outcomes: new FileOutcomeStore(dir) });
    const page = await chromium.browser.newPage({ viewport: { width: 1300, height: 900 } });
    try {
      await page.goto(`${ui.url}/#/run/${encodeURIComponent(workflowId)}`);
      const summary = page.locator('dl.summary');
      // While it runs: what it settled so far, from its progress, and the steps in flight.
      await summary.getByText(/^\d+ settled so far: \d+ succeeded, \d+ failed; \d+ in flight$/).waitFor();
      await expect(summary.textContent()).resolves.toContain(`Source${source}`);
      await page.getByRole('heading', { name: 'Steps in flight' }).waitFor();
      // No timeline: a batch's histories are not read for one.
      await expect(page.getByRole('region', { name: 'Timeline' }).isHidden()).resolves.toBe(true);

      const result: RunSummary = await handle.result();
      expect(result).toMatchObject({ total: STEPS, failed: FAILED.length });
      await summary
        .getByText(`${STEPS} steps: ${STEPS - FAILED.length} succeeded, ${FAILED.length} failed`)
        .waitFor();
      const cost = (0.001 * (STEPS - FAILED.length)).toFixed(4);
      await summary
        .getByText(
          `${100 * (STEPS - FAILED.length)} in / ${20 * (STEPS - FAILED.length)} out tokens, $${cost}`,
        )
        .waitFor();
      await expect(page.getByRole('heading', { name: 'Steps in flight' }).isHidden()).resolves.toBe(true);
      // The runs list's cost for it: its summary's.
      const listed = await fetch(`${ui.url}/api/runs/${encodeURIComponent(workflowId)}/cost`);
      await expect(listed.json()).resolves.toEqual({
        costUsd: expect.closeTo(0.001 * (STEPS - FAILED.length), 9),
        inputTokens: 100 * (STEPS - FAILED.length),
        outputTokens: 20 * (STEPS - FAILED.length),
      });

      const outcomes = page.getByRole('region', { name: 'Outcomes' });
      const caption = outcomes.locator('.outcomes-caption');
      const seqs = () => outcomes.locator('tbody tr:not(.outcome-detail) th').allTextContents();
      const range = (from: number, to: number) =>
        Array.from({ length: to - from }, (_, i) => String(from + i));
      await caption.getByText('Page 1 of 3: seq 0 to 99').waitFor();
      expect(await seqs()).toEqual(range(0, 100));
      const row = (seq: number) => outcomes.locator(`tr[data-seq="${seq}"]`);
      await expect(row(5).textContent()).resolves.toBe('5t5exploresucceededread t5…100 / 20');
      await expect(row(3).textContent()).resolves.toBe('3t3brokenfailedno: t3 broke');

      const next = outcomes.getByRole('button', { name: 'Next page' });
      const previous = outcomes.getByRole('button', { name: 'Previous page' });
      await expect(previous.isDisabled()).resolves.toBe(true);
      await next.click();
      await caption.getByText('Page 2 of 3: seq 100 to 199').waitFor();
      expect(await seqs()).toEqual(range(100, 200));
      await next.click();
      await caption.getByText('Page 3 of 3: seq 200 to 299').waitFor();
      await expect(next.isDisabled()).resolves.toBe(true);
      // The pressed button was disabled: the focus went to the other one.
      await expect(focused(page)).resolves.toBe('Previous page');
      await previous.click();
      await caption.getByText('Page 2 of 3: seq 100 to 199').waitFor();
      // The address keeps the page: a reload shows the same outcomes.
      expect(new URL(page.url()).hash).toBe(`#/run/${encodeURIComponent(workflowId)}?after=99`);
      await page.reload();
      await caption.getByText('Outcomes: seq 100 to 199').waitFor();
      expect(await seqs()).toEqual(range(100, 200));

      // Failed only: every failed step, on one page, from the first.
      await outcomes.getByLabel('Failed only').check();
      await caption.getByText(`Page 1 of 1: seq 3 to 297, failed only`).waitFor();
      expect(await seqs()).toEqual(FAILED.map(String));
      expect(new URL(page.url()).hash).toBe(`#/run/${encodeURIComponent(workflowId)}?failed=1`);

      // A row opens its whole outcome under it, read from the store; again, it closes.
      await row(10).click();
      const detail = outcomes.getByRole('region', { name: 'Outcome 10' });
      await detail.getByRole('heading', { name: 'Outcome 10: t10' }).waitFor();
      await expect(detail.locator('h3, pre').allTextContents()).resolves.toEqual([
        'Outcome 10: t10',
        'Output',
        'no: t10 broke',
        'Error',
        'no: t10 broke',
      ]);
      await expect(detail.getByRole('link', { name: /its step page/ }).getAttribute('href')).resolves.toBe(
        `#/run/${encodeURIComponent(workflowId)}/step/t10`,
      );
      await screenshot(page, 'batch');
      await outcomes.getByRole('button', { name: '10', exact: true }).press('Enter');
      await detail.waitFor({ state: 'detached' });

      await outcomes.getByLabel('Failed only').uncheck();
      await caption.getByText('Page 1 of 3: seq 0 to 99').waitFor();
      await row(4).click();
      await outcomes.getByRole('region', { name: 'Outcome 4' }).getByText('read t4\nand more').waitFor();
    } finally {
      await page.close();
      await ui.close();
    }
  });
}, 180_000);

test('a running batch’s counts so far: from its progress while a worker answers, from its history once none does', async () => {
  const source = join(tempDir(), 'specs.jsonl');
  const specs = Array.from({ length: 20 }, (_, seq) => ({
    taskId: `t${seq}`,
    agent: fails(seq) ? 'broken' : 'explore',
    prompt: `p${seq}`,
  }));
  writeFileSync(source, `${specs.map((spec) => JSON.stringify(spec)).join('\n')}\n`);
  // Steps from t10 on wait at the gate: ten settle (t3 fails), four run, six wait for a slot.
  const executor = new GateExecutor(
    new ScriptExecutor({ agents: { explore: { output: 'read' }, broken: { success: false, output: 'no' } } }),
    (taskId) => Number(taskId.slice(1)) >= 10,
  );
  const store = new FileOutcomeStore(join(tempDir(), 'store'));
  const workflowId = uniqueId('ui-batch-counts');
  const ui = await startUiServer({ client: await devClient(), port: 0, outcomes: store });
  const page = await chromium.browser.newPage({ viewport: { width: 1300, height: 900 } });
  const summary = page.locator('dl.summary');
  try {
    await withWorker({ executor, outcomes: store }, async ({ client, taskQueue }) => {
      await client.workflow.start('batchWorkflow', {
        taskQueue,
        workflowId,
        args: [{ source: { jsonl: source }, concurrency: 4 }],
      });
      await page.goto(`${ui.url}/#/run/${encodeURIComponent(workflowId)}`);
      await summary
        .getByText('10 settled so far: 9 succeeded, 1 failed; 10 in flight')
        .waitFor({ timeout: 30_000 });
      await page.getByRole('region', { name: 'Outcomes' }).getByText('Page 1 of 1: seq 0 to 9').waitFor();
    });
    // The worker is gone and the run still runs: its history says what settled and which steps are under way.
    await page.reload();
    await summary
      .getByText('10 settled so far (from history: no worker answered): 9 succeeded, 1 failed; 4 in flight')
      .waitFor({ timeout: 30_000 });
  } finally {
    await (
      await devClient()
    ).workflow
      .getHandle(workflowId)
      .terminate('test over')
      .catch(() => undefined);
    await page.close();
    await ui.close();
  }
}, 120_000);

const outcome = (seq: number): StepOutcome => ({
  taskId: `task-${seq}`,
  agent: 'explore',
  sessionId: `s${seq}`,
  output: fails(seq) ? '' : `output ${seq}`,
  success: !fails(seq),
  ...(fails(seq) ? { error: `failed ${seq}` } : {}),
});

test('the outcomes API: keyset pages to the last, failed only, one outcome whole, bad cursors refused in one line; tao ui reads the store --store names', async () => {
  const store = new FileOutcomeStore(tempDir());
  const run = 'batch-run';
  const total = 1_050;
  await Promise.all(Array.from({ length: total }, (_, seq) => store.put(run, seq, outcome(seq))));
  const client = await devClient();
  const ui = await startUiServer({ client, port: 0, outcomes: new FileOutcomeStore(tempDir()) });
  const bare = await startUiServer({ client, port: 0 });
  const get = async (path: string, server = ui) => {
    const response = await fetch(`${server.url}/api/runs/${run}${path}`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  type Page = { outcomes: { seq: number; success: boolean; preview: string }[]; next?: number };
  try {
    const first = (await get('/outcomes')).body as Page;
    expect(first.outcomes.map((o) => o.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(first.next).toBe(99);
    expect(first.outcomes[4]).toEqual({
      seq: 4,
      taskId: 'task-4',
      agent: 'explore',
      success: true,
      preview: 'output 4',
    });
    expect(first.outcomes[3]).toMatchObject({ success: false, preview: 'failed 3' });

    // Next after next, to the last page, which says so: every outcome once, in order.
    const seen: number[] = [];
    let pages = 0;
    for (let after: number | undefined; ; pages++) {
      const { body } = await get(`/outcomes${after === undefined ? '' : `?after=${after}`}`);
      const page = body as Page;
      seen.push(...page.outcomes.map((o) => o.seq));
      if (page.next === undefined) break;
      after = page.next;
    }
    expect(pages + 1).toBe(11);
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => i));

    const failed = (await get('/outcomes?failed=1&limit=500')).body as Page;
    const failedSeqs = Array.from({ length: total }, (_, i) => i).filter(fails);
    expect(failed.outcomes.map((o) => o.seq)).toEqual(failedSeqs);
    expect(failed.next).toBeUndefined();
    const deep = (await get('/outcomes?after=1000&failed=1')).body as Page;
    expect(deep.outcomes.map((o) => o.seq)).toEqual(failedSeqs.filter((seq) => seq > 1000));

    await expect(get('/outcomes/10')).resolves.toEqual({
      status: 200,
      body: { seq: 10, outcome: outcome(10) },
    });
    await expect(get('/outcomes/0')).resolves.toMatchObject({ status: 200, body: { seq: 0 } });
    await expect(get('/outcomes/5000')).resolves.toMatchObject({ status: 404 });
    await expect(get('/outcomes', bare)).resolves.toEqual({
      status: 404,
      body: { error: 'tao ui was started without the store the workers write to (--store)' },
    });
    // A run with no outcomes here: an empty page, not an error.
    const none = await fetch(`${ui.url}/api/runs/no-such-run/outcomes`);
    await expect(none.json()).resolves.toEqual({ outcomes: [] });

    for (const [query, error] of [
      ['after=abc', 'after: must be the seq a page of outcomes gave as next (a whole number from 0)'],
      ['after=-1', 'after: must be the seq a page of outcomes gave as next (a whole number from 0)'],
      ['after=1e9', 'after: must be the seq a page of outcomes gave as next (a whole number from 0)'],
      ['limit=0', 'limit: must be a whole number from 1 to 500'],
      ['limit=501', 'limit: must be a whole number from 1 to 500'],
      ['failed=yes', 'failed: must be 1 (failed only) or 0'],
      ['page=2', "(root): Unrecognized key(s) in object: 'page'"],
    ]) {
      await expect(get(`/outcomes?${query}`)).resolves.toEqual({ status: 400, body: { error } });
    }
    await expect(get('/outcomes/x')).resolves.toEqual({
      status: 400,
      body: { error: '(root): an outcome is named by its seq: a whole number from 0' },
    });
  } finally {
    await Promise.all([ui.close(), bare.close()]);
  }
  // `tao ui` opens the outcome store beside the checkpoint store its --store names.
  const port = await freePort();
  const cli = startTao([
    'ui',
    '--store',
    `file:${tempDir()}`,
    '--address',
    devServerAddress(),
    '--port',
    String(port),
  ]);
  try {
    await cli.waitFor('TAO UI at');
    const response = await fetch(`http://127.0.0.1:${port}/api/runs/${run}/outcomes?after=1000`);
    const page = (await response.json()) as Page;
    expect(page.outcomes.map((o) => o.seq)).toEqual(Array.from({ length: 49 }, (_, i) => 1001 + i));
  } finally {
    await cli.stop();
  }
});
