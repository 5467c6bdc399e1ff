/**
 * `tao ui` in a real browser: Debian's Chromium, driven by playwright-core,
 * against the UI server on the shared dev server, with a real TAO worker
 * running scripted steps. Screenshots of each view go to docs/ when
 * TAO_UPDATE_DOCS_SCREENSHOT is set.
 */
import type { Page } from 'playwright-core';
import { approveStep } from '../../src/client';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { type UiServer, type UiServerOptions, startUiServer } from '../../src/ui/server';
import { chromiumPerFile, focused, screenshot } from '../support/chromium';
import { spec } from '../support/specs';
import { TalkingExecutor } from '../support/talking-executor';
import { closeDevClient, namespaceClient, newNamespace, uniqueId, withWorker } from '../support/temporal';

const XSS = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">';

const chromium = chromiumPerFile();
afterAll(closeDevClient);

// This file's runs, workers and UI servers are in a namespace of their own: the inbox lists every waiting step
// of its namespace, and in a full test run `default` holds every other file's runs (1,000 steps waiting for
// approval at times), each of which the inbox asks for its text.
let namespace: string;
beforeAll(async () => {
  namespace = await newNamespace('ui', { waitingAttribute: true });
});

async function withUi<T>(
  client: Parameters<typeof startUiServer>[0]['client'],
  body: (ui: UiServer, page: Page) => Promise<T>,
  options: Partial<UiServerOptions> = {},
) {
  const ui = await startUiServer({ client, port: 0, temporalUiUrl: 'http://localhost:8233', ...options });
  const page = await chromium.browser.newPage({ viewport: { width: 1300, height: 900 } });
  try {
    return await body(ui, page);
  } finally {
    await page.close();
    await ui.close();
  }
}

test('runs, a run’s steps, model output shown as text, a refused decision’s reason, and the inbox’s approve', async () => {
  const executor = new ScriptExecutor({ tasks: { xss: { output: XSS } } });
  await withWorker({ executor, namespace }, async ({ client, taskQueue }) => {
    const workflowId = uniqueId('ui-parallel');
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId,
      args: [
        {
          specs: [
            { ...spec('gate'), approval: { before: true } },
            spec('xss'),
            { ...spec('hold', 'review', 'review the release notes'), approval: { before: true } },
          ],
        },
      ],
    });
    await withUi(client, async (ui, page) => {
      await page.goto(`${ui.url}/#/runs?status=Running`);
      await page.getByRole('link', { name: workflowId }).click();
      const xssRow = page.getByRole('row', { name: /xss/ });
      await xssRow.getByText('succeeded').waitFor();
      // A script step reports no model latency; its duration is what its attempt ran.
      await expect(xssRow.locator('td').nth(3).textContent()).resolves.toMatch(/^\d+ ms$|^\d+\.\d s$/);

      // A finished step's output starts in the table, as text.
      await xssRow.locator('td.output').getByText(XSS).waitFor();
      await screenshot(page, 'run');

      await xssRow.getByRole('link', { name: 'xss' }).click();
      const detail = page.getByRole('region', { name: 'Step detail' });
      await expect(detail.locator('pre').last().textContent()).resolves.toBe(XSS);
      expect(await page.evaluate(() => (globalThis as { pwned?: number }).pwned)).toBeUndefined();
      expect(await page.locator('img').count()).toBe(0);
      const events = detail.getByRole('link', { name: /^Events in the Temporal Web UI/ });
      expect(await events.getAttribute('href')).toMatch(
        new RegExp(
          `^http://localhost:8233/namespaces/${namespace}/workflows/${workflowId}/[-0-9a-f]+/history/events/\\d+$`,
        ),
      );

      // Decided elsewhere (the CLI's own call) while the page still offers the decision: the workflow refuses.
      await page.getByRole('link', { name: `Run ${workflowId}` }).click();
      await page.getByRole('row', { name: /gate/ }).getByRole('link', { name: 'gate' }).click();
      await detail.getByRole('button', { name: 'Approve' }).waitFor();
      await approveStep(handle, { taskId: 'gate' });
      await detail.getByRole('button', { name: 'Approve' }).click();
      await expect(page.getByRole('alert').textContent()).resolves.toMatch(
        /^Approve gate refused: .*step "gate" is (already decided|\w+, not waiting for a decision)/,
      );

      await page.getByRole('link', { name: 'Inbox' }).click();
      const item = page.getByRole('article', { name: `${workflowId} hold` });
      await expect(item.locator('pre').textContent()).resolves.toBe('review the release notes');
      await screenshot(page, 'inbox');
      await item.getByLabel('Comment').fill('looks right');
      await item.getByRole('button', { name: 'Approve' }).click();
      const result: StepOutcome[] = await handle.result();
      expect(result.map((o) => [o.taskId, o.success, o.output])).toEqual([
        ['gate', true, 'do gate'],
        ['xss', true, XSS],
        ['hold', true, 'review the release notes'],
      ]);
      await page.getByRole('link', { name: 'Runs' }).click();
      await page.getByRole('link', { name: workflowId }).waitFor();
      await screenshot(page, 'runs');
    });
  });
});

test('a pipeline’s grid of items against stages updates as its steps finish, with no reload', async () => {
  // Steps of 2 s, so the last one still runs when a loaded machine has drawn the page (at 700 ms a step, the
  // run had ended before the page showed in CI, twice).
  const executor = new ScriptExecutor({ default: { delayMs: 2_000 } });
  await withWorker({ executor, namespace }, async ({ client, taskQueue }) => {
    const workflowId = uniqueId('ui-pipeline');
    const handle = await client.workflow.start('pipelineWorkflow', {
      taskQueue,
      workflowId,
      args: [
        {
          items: ['a', 'b'],
          concurrency: 1,
          stages: [
            { taskId: 'plan:{{item}}', agent: 'plan', prompt: 'plan {{item}}' },
            { taskId: 'build:{{item}}', agent: 'build', prompt: 'build {{item}}' },
          ],
        },
      ],
    });
    await withUi(client, async (ui, page) => {
      await page.goto(`${ui.url}/#/run/${encodeURIComponent(workflowId)}`);
      const cell = (item: number, stage: number) => page.locator(`td[data-cell="${item}/${stage}"]`);
      await cell(1, 1).getByText('running').waitFor();
      await expect(cell(1, 1).textContent()).resolves.not.toContain('succeeded');
      const loaded = await page.evaluate(() => performance.timeOrigin);
      await cell(1, 1).getByText('succeeded').waitFor({ timeout: 30_000 });
      for (const [i, s] of [
        [0, 0],
        [0, 1],
        [1, 0],
      ] as const)
        await cell(i, s).getByText('succeeded').waitFor();
      expect(await page.evaluate(() => performance.timeOrigin)).toBe(loaded);
      await screenshot(page, 'pipeline');
      await handle.result();
    });
  });
});

test('a running step’s latest output changes on the page as the step speaks, with no reload', async () => {
  const talker = new TalkingExecutor(250);
  await withWorker({ executor: talker, namespace }, async ({ client, taskQueue }) => {
    const workflowId = uniqueId('ui-live');
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId,
      args: [{ specs: [{ taskId: 'talker', agent: 'explore', prompt: 'talk' }] }],
    });
    await withUi(client, async (ui, page) => {
      await page.goto(`${ui.url}/#/run/${encodeURIComponent(workflowId)}`);
      const output = page.getByRole('row', { name: /talker/ }).locator('td.output');
      await output.getByText(/^line [2-9]$/).waitFor();
      const loaded = await page.evaluate(() => performance.timeOrigin);
      await output.getByText(/^line [1-9][0-9]$/).waitFor();
      expect(await page.evaluate(() => performance.timeOrigin)).toBe(loaded);
      talker.release();
      await handle.result();
    });
  });
});

test('a loop’s page shows its rounds; a delegating step’s page, its tasks under it', async () => {
  const executor = new ScriptExecutor({
    agents: { lead: { delegate: [{ agent: 'explore', description: 'a', prompt: 'read a' }] } },
  });
  await withWorker({ executor, namespace }, async ({ client, taskQueue }) => {
    const loopId = uniqueId('ui-loop');
    await client.workflow.execute('loopWorkflow', {
      taskQueue,
      workflowId: loopId,
      args: [
        {
          initial: [spec('draft')],
          maxIterations: 2,
          next: { specs: [{ taskId: 'draft', agent: 'explore', prompt: 'again' }] },
        },
      ],
    });
    const treeId = uniqueId('ui-tree');
    await client.workflow.execute('parallelWorkflow', {
      taskQueue,
      workflowId: treeId,
      args: [{ specs: [{ ...spec('lead'), agent: 'lead' }, spec('solo')] }],
    });
    await withUi(client, async (ui, page) => {
      await page.goto(`${ui.url}/#/run/${encodeURIComponent(loopId)}`);
      await page.getByRole('heading', { name: 'Rounds' }).waitFor();
      const heads = page.locator('table.steps tbody th');
      await expect(heads.allTextContents()).resolves.toEqual(['round 1 draft', 'round 2 draft']);

      await page.goto(`${ui.url}/#/run/${encodeURIComponent(treeId)}`);
      await page.getByRole('heading', { name: 'Delegation tree' }).waitFor();
      const rows = page.locator('table.steps tbody tr');
      await expect(rows.locator('th').allTextContents()).resolves.toEqual(['lead', 'lead/task-1-1', 'solo']);
      await expect(rows.evaluateAll((trs) => trs.map((tr) => tr.className))).resolves.toEqual([
        'depth-0',
        'depth-1',
        'depth-0',
      ]);
    });
  });
});

test('steering from the keyboard: cancel a step, resume, pause, concurrency, budget, cancel the run', async () => {
  await withWorker({ executor: new ScriptExecutor(), namespace }, async ({ client, taskQueue }) => {
    const workflowId = uniqueId('ui-steer');
    // Started paused, so `later` stays pending until the page cancels it.
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId,
      args: [{ specs: [{ ...spec('first'), approval: { before: true } }, spec('later')], paused: true }],
    });
    await withUi(client, async (ui, page) => {
      await page.goto(`${ui.url}/#/run/${encodeURIComponent(workflowId)}`);
      const summary = page.locator('dl.summary');
      const notice = page.getByRole('alert');
      const later = page.getByRole('row', { name: /later/ });
      await later.getByText('pending').waitFor();
      await later.getByRole('link', { name: 'later' }).click();
      await page.getByRole('button', { name: 'Cancel step' }).click();
      await expect(notice.textContent()).resolves.toBe('Cancel step later: done');
      await page.getByRole('link', { name: `Run ${workflowId}` }).click();
      await later.getByText('failed').waitFor();

      await page.getByRole('button', { name: 'Resume' }).focus();
      await page.keyboard.press('Enter');
      await summary.getByText('not paused').waitFor();
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Enter');
      await summary.getByText('paused', { exact: true }).waitFor();

      await page.getByLabel('Concurrency').fill('3');
      await page.keyboard.press('Enter');
      await summary.getByText('paused, concurrency 3').waitFor();
      await page.getByLabel('Max steps').fill('10');
      await page.keyboard.press('Enter');
      await summary.getByText(/steps 0 of 10/).waitFor();
      await expect(notice.textContent()).resolves.toBe('Budget: done');

      page.once('dialog', (dialog) => void dialog.accept());
      await page.getByRole('button', { name: 'Cancel run' }).click();
      await summary.getByText('CANCELLED').waitFor();
      expect((await handle.describe()).status.name).toBe('CANCELLED');
    });
  });
});

test('with an auth token, the page opened with it works, and one opened without it says how to get in', async () => {
  const token = 'page-token-for-the-test';
  await withUi(
    await namespaceClient(namespace),
    async (ui, page) => {
      await page.goto(`${ui.url}/#/runs?token=${token}`);
      await page.getByRole('heading', { name: 'Runs' }).waitFor();
      // Kept for the tab: a view opened without it in the address still works.
      await page.getByRole('link', { name: 'Inbox' }).click();
      await page.getByRole('heading', { name: 'Inbox' }).waitFor();
      // Its list read with the token too: the inbox hides the notice only once it has drawn the list.
      await inboxRead(page);
      await expect(page.locator('#notice').isHidden()).resolves.toBe(true);

      const stranger = await chromium.browser.newPage();
      try {
        await stranger.goto(`${ui.url}/#/runs`);
        await expect(stranger.getByRole('alert').textContent()).resolves.toBe(
          'unauthorized: open the page as <its address>/#/runs?token=<the auth token>',
        );
      } finally {
        await stranger.close();
      }
    },
    { authToken: token },
  );
});

test('the runs list pages: Next and Previous, by keyboard, through more runs than one page holds', async () => {
  const executor = new ScriptExecutor({});
  await withWorker({ executor, namespace }, async ({ client, taskQueue }) => {
    const ours: string[] = [];
    for (let i = 0; i < 7; i++) {
      const workflowId = uniqueId(`ui-page-${i}`);
      await client.workflow.execute('parallelWorkflow', {
        taskQueue,
        workflowId,
        args: [{ specs: [spec('a')] }],
      });
      ours.push(workflowId);
    }
    await withUi(
      client,
      async (ui, page) => {
        await page.goto(`${ui.url}/#/runs?status=Completed`);
        const pager = page.getByRole('navigation', { name: 'Runs pages' });
        const previous = pager.getByRole('button', { name: 'Previous page' });
        const next = pager.getByRole('button', { name: 'Next page' });
        const shown = async () => {
          await page.locator('section[aria-label="Runs found"] tbody tr').first().waitFor();
          return page.locator('section[aria-label="Runs found"] tbody tr td:first-child').allTextContents();
        };
        const pages = [await shown()];
        expect(pages[0]).toHaveLength(3);
        expect(await previous.isDisabled()).toBe(true);
        // Newest first, so ours are on the first pages: walk on until each has shown, on one page only.
        while (!ours.every((id) => pages.flat().includes(id))) {
          await next.press('Enter');
          await page
            .getByRole('link', { name: pages.at(-1)![0], exact: true })
            .waitFor({ state: 'detached' });
          const last = await next.isDisabled();
          await expect(focused(page)).resolves.toBe(last ? 'Previous page' : 'Next page');
          const rows = await shown();
          expect(rows.filter((id) => pages.flat().includes(id))).toEqual([]);
          pages.push(rows);
        }
        expect(pages.length).toBeGreaterThanOrEqual(3);
        // A page after the first reads by its token, so going back to it shows the same runs.
        await previous.press('Enter');
        await page.getByRole('link', { name: pages.at(-2)![0], exact: true }).waitFor();
        await expect(focused(page)).resolves.toBe('Previous page');
        expect(await shown()).toEqual(pages.at(-2));
      },
      { runsPageSize: 3 },
    );
  });
});

/** Once the inbox's list has been read: its heading and Refresh show before. */
const inboxRead = (page: Page) =>
  page.locator('section[aria-label="Waiting steps"][aria-busy="false"]').waitFor({ timeout: 60_000 });

/**
 * The inbox's entry named `name`, once there. The inbox reads once, as a
 * person's edit must not be redrawn away: reload until the step waits.
 */
async function inboxItem(page: Page, url: string, name: string) {
  const item = page.getByRole('article', { name });
  for (let i = 0; i < 20 && !(await item.count()); i++) {
    if (i > 0) await page.waitForTimeout(500);
    await page.goto(`${url}/#/inbox`);
    await page.reload();
    await inboxRead(page);
  }
  return item;
}

test('the inbox shows its heading, Refresh and that it is loading before its list is read, then the list', async () => {
  await withUi(await namespaceClient(namespace), async (ui, page) => {
    // The list's read is held until the page has been seen without it.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/api/inbox', async (route) => {
      await held;
      await route.continue();
    });
    await page.goto(`${ui.url}/#/inbox`);
    await page.getByRole('heading', { name: 'Inbox' }).waitFor();
    await page.getByRole('button', { name: 'Refresh' }).waitFor();
    const list = page.getByRole('region', { name: 'Waiting steps' });
    await expect(list.textContent()).resolves.toBe('Loading the steps waiting for a decision…');
    await expect(list.getAttribute('aria-busy')).resolves.toBe('true');
    release();
    await inboxRead(page);
    await expect(list.textContent()).resolves.toBe('No step is waiting for a decision.');
  });
});

test('an output waiting for approval is edited in the inbox and approved: the run keeps the edit', async () => {
  await withWorker({ executor: new ScriptExecutor(), namespace }, async ({ client, taskQueue }) => {
    const workflowId = uniqueId('ui-edit');
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId,
      args: [{ specs: [{ ...spec('draft', 'explore', 'the first draft'), approval: { after: true } }] }],
    });
    await withUi(client, async (ui, page) => {
      const item = await inboxItem(page, ui.url, `${workflowId} draft`);
      await expect(item.locator('pre').textContent()).resolves.toBe('the first draft');
      const output = item.getByLabel('Output (edit to approve a changed output)');
      await expect(output.inputValue()).resolves.toBe('the first draft');
      await output.fill('the edited draft');
      await item.getByLabel('Comment').fill('tightened');
      await item.getByRole('button', { name: 'Approve' }).click();
      const [outcome] = (await handle.result()) as StepOutcome[];
      expect([outcome!.success, outcome!.output]).toEqual([true, 'the edited draft']);
    });
  });
});

test('a step waiting on a spent budget shows in the inbox with the limit and its prompt; approving runs it past the limit', async () => {
  await withWorker({ executor: new ScriptExecutor(), namespace }, async ({ client, taskQueue }) => {
    const workflowId = uniqueId('ui-budget');
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId,
      args: [
        {
          specs: [spec('first'), spec('second', 'explore', 'the second prompt')],
          concurrency: 1,
          budget: { maxSteps: 1, onExhausted: 'wait' },
        },
      ],
    });
    await withUi(client, async (ui, page) => {
      const item = await inboxItem(page, ui.url, `${workflowId} second`);
      await expect(item.textContent()).resolves.toContain('spent budget (budget exhausted (steps 1/1))');
      await expect(item.locator('pre').textContent()).resolves.toBe('the second prompt');
      await item.getByRole('button', { name: 'Approve' }).click();
      const outcomes = (await handle.result()) as StepOutcome[];
      expect(outcomes.map((o) => [o.taskId, o.success])).toEqual([
        ['first', true],
        ['second', true],
      ]);
    });
  });
});

test('a question an agent asked shows in the inbox with its choices; the answer typed there resumes it', async () => {
  const executor = new ScriptExecutor({
    agents: {
      planner: { ask: { question: 'Which API?', choices: ['v1', 'v2'] }, output: 'using {{answer}}' },
    },
  });
  await withWorker({ executor, namespace }, async ({ client, taskQueue }) => {
    const workflowId = uniqueId('ui-question');
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId,
      args: [{ specs: [spec('plan', 'planner', 'plan the change')] }],
    });
    await withUi(client, async (ui, page) => {
      const item = await inboxItem(page, ui.url, `${workflowId} plan`);
      await expect(item.textContent()).resolves.toContain('Its agent asks:');
      await expect(item.locator('pre').textContent()).resolves.toBe('Which API?\nchoices: v1 | v2');
      await expect(item.getByRole('button', { name: 'Approve' }).count()).resolves.toBe(0);
      await screenshot(page, 'inbox-question');
      await item.getByLabel('Answer', { exact: true }).fill('v2, the streaming one');
      await item.getByRole('button', { name: 'Answer' }).click();
      const [outcome] = (await handle.result()) as StepOutcome[];
      expect([outcome!.success, outcome!.output]).toEqual([true, 'using v2, the streaming one']);
    });
  });
});

test("a tool call an agent's rules ask about shows in the inbox; approved for the run with edited arguments, the other waiting call goes on too", async () => {
  const toolCall = (command: string) => ({
    toolCall: { tool: 'run_shell', input: { command } },
    output: '{{toolDecision}} {{toolInput}}',
  });
  const executor = new ScriptExecutor({
    tasks: { clean: toolCall('rm -rf build'), tidy: toolCall('rm -rf dist') },
  });
  await withWorker({ executor, namespace }, async ({ client, taskQueue }) => {
    const workflowId = uniqueId('ui-tool-call');
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId,
      args: [{ specs: [spec('clean'), spec('tidy')] }],
    });
    await withUi(client, async (ui, page) => {
      await inboxItem(page, ui.url, `${workflowId} tidy`);
      const item = await inboxItem(page, ui.url, `${workflowId} clean`);
      await expect(item.textContent()).resolves.toContain(
        'Its agent wants to run a tool call that needs your approval:',
      );
      await expect(item.locator('pre').textContent()).resolves.toBe(
        'run_shell {"command":"rm -rf build"}\nasked by script rule of clean',
      );
      const args = item.getByLabel('Arguments (edit to run a changed call)');
      expect(JSON.parse(await args.inputValue())).toEqual({ command: 'rm -rf build' });
      await screenshot(page, 'inbox-tool-call');
      await args.fill('{"command": "rm -rf build/tmp"}');
      await item.getByRole('button', { name: 'Approve for this run' }).click();
      const outcomes = (await handle.result()) as StepOutcome[];
      expect(outcomes.map((o) => [o.taskId, o.output])).toEqual([
        ['clean', 'approved {"command":"rm -rf build/tmp"}'],
        ['tidy', 'granted '],
      ]);
    });
  });
});
