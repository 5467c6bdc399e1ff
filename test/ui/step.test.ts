/**
 * A step's own page in `tao ui`: its address, its transcript pushed live over
 * Server-Sent Events, and the box that sends its agent a message. Real
 * Chromium, the UI server on the shared dev server, a real worker running the
 * llm executor against the fake OpenAI server streaming slowly with a tool
 * call; the transcript goes through the worker's (memory) store, which the UI
 * server reads, as `tao ui --store` reads the workers' store.
 */
import { request } from 'node:http';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { startUiServer } from '../../src/ui/server';
import { chromiumPerFile, screenshot } from '../support/chromium';
import type { FakeReply, FakeRequest } from '../support/fake-http';
import { withFakeModel } from '../support/fake-model-run';
import { openAiText, openAiToolCalls } from '../support/fake-openai';
import { LEAD_SYSTEM, PARTS, isLead, leadAnswer, partOf } from '../support/delegating-agent';
import { PROTOCOLS } from '../support/llm-harness';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

// A task id with what an address must encode: a delegated task's `/`, a space, `?` and `#`.
const TASK = 'fix/a.ts #1?';
const MESSAGE = 'also check the tests';

const chromium = chromiumPerFile();
afterAll(closeDevClient);

type Said = { role: string; content: string | null };
const userTurns = (request: FakeRequest) =>
  (request.body.messages as Said[]).filter((m) => m.role === 'user').map((m) => m.content);

/** The first answer streams its text slowly, then calls a tool; the second says whether it heard the message. */
function reply(request: FakeRequest, index: number): FakeReply {
  if (index === 0) {
    const call = openAiToolCalls([{ name: 'read_file', input: { path: 'src/a.ts' } }]);
    const body = call.body as { choices: [{ message: { content: string | null } }] };
    body.choices[0].message.content = 'Reading src/a.ts first, to see what it exports.';
    return { ...call, chunkDelayMs: 700 };
  }
  const heard = userTurns(request).includes(MESSAGE);
  return {
    ...openAiText(heard ? 'It exports a; the tests are checked too.' : 'It exports a.'),
    chunkDelayMs: 300,
  };
}

/** A raw GET of the step's event stream until it ends: each message's id and event. */
function readStream(url: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; type: string; messages: { id?: number; event?: string }[] }>(
    (resolve, reject) => {
      const req = request(url, { headers }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => {
          const messages = body
            .split('\n\n')
            .filter((m) => /^(id|event|data):/m.test(m))
            .map((m) => {
              const id = /^id: (\d+)$/m.exec(m)?.[1];
              const event = /^event: (\w+)$/m.exec(m)?.[1];
              return { ...(id ? { id: Number(id) } : {}), ...(event ? { event } : {}) };
            });
          resolve({ status: res.statusCode!, type: String(res.headers['content-type']), messages });
        });
      });
      req.once('error', reject);
      req.end();
    },
  );
}

test('a step’s page: its own address, the transcript live as it streams, a message from the box reaching the next turn, a dropped stream resumed, the same after a reload; over HTTP a reconnect with Last-Event-ID gets only later events', async () => {
  await withFakeModel(reply, async ({ client, store, requests, start }) => {
    const handle = await start({
      specs: [{ taskId: TASK, agent: 'explore', prompt: 'What does src/a.ts export?' }],
    });
    const { workflowId } = handle;
    let ui = await startUiServer({ client, store, port: 0 });
    const page = await chromium.browser.newPage({ viewport: { width: 1300, height: 900 } });
    try {
      // From the run's table, by its link, to the step's own address.
      await page.goto(`${ui.url}/#/run/${encodeURIComponent(workflowId)}`);
      await page.getByRole('link', { name: TASK, exact: true }).click();
      await page.getByRole('heading', { name: `Step ${TASK}` }).waitFor();
      const address = `${ui.url}/#/run/${encodeURIComponent(workflowId)}/step/${encodeURIComponent(TASK)}`;
      expect(page.url()).toBe(address);

      // Text as it streams: a piece of the first answer shows while the model is still answering.
      const transcript = page.getByRole('list', { name: 'Transcript' });
      await transcript.getByText(/^Reading src\//).waitFor();
      expect(await transcript.locator('.turn .text').first().textContent()).not.toBe(
        'Reading src/a.ts first, to see what it exports.',
      );
      expect(requests).toHaveLength(1);
      expect((await handle.describe()).status.name).toBe('RUNNING');

      // A message from the box while the answer streams: the next model request carries it.
      await page.getByLabel('Message to the agent').fill(MESSAGE);
      await page.getByRole('button', { name: 'Send' }).click();
      await expect(page.getByRole('alert').textContent()).resolves.toBe(`Message to ${TASK}: done`);
      await transcript.locator('.sent').getByText(MESSAGE).waitFor();

      const tool = transcript.locator('details.tool');
      await tool.getByText('Tool call read_file').waitFor();

      // The stream drops mid-step (the server goes away and comes back on its port): the page reconnects with
      // the last event's number and goes on, nothing missed or shown twice (checked below, after the end).
      const port = Number(new URL(ui.url).port);
      await ui.close();
      await page.getByText(/^Transcript stream dropped \(.*\); reconnecting…$/).waitFor();
      ui = await startUiServer({ client, store, port });
      await page.getByText('Live: new events show as they land.').waitFor();
      await tool.locator('summary').click();
      await tool.locator('pre.result').getByText('export const a = 1;').waitFor();
      await transcript.getByText('It exports a; the tests are checked too.').waitFor();
      await page.getByText(/^Ended: the step succeeded\./).waitFor();
      await tool.locator('pre.result').scrollIntoViewIfNeeded();
      await screenshot(page, 'step');
      const [outcome]: StepOutcome[] = await handle.result();
      expect(outcome).toMatchObject({ success: true, output: 'It exports a; the tests are checked too.' });
      expect(userTurns(requests[1]!)).toEqual(['What does src/a.ts export?', MESSAGE]);
      const turns = await transcript.locator('.turn').allTextContents();
      expect(turns).toHaveLength(2);
      await expect(transcript.locator('.turn .text').allTextContents()).resolves.toEqual([
        'Reading src/a.ts first, to see what it exports.',
        'It exports a; the tests are checked too.',
      ]);
      expect(await tool.count()).toBe(1);
      await expect(transcript.locator('li.attempt').allTextContents()).resolves.toEqual([
        'Attempt 1 started',
        'Attempt 1 ended: success',
      ]);
      expect(turns[1]).toMatch(/fake-model, stop: \d+ in \/ \d+ out tokens/);

      // A reload restores the address and the same transcript (the sent message is the run's, not the transcript's).
      await page.reload();
      await page.getByText(/^Ended: /).waitFor();
      expect(page.url()).toBe(address);
      await expect(transcript.locator('.turn').allTextContents()).resolves.toEqual(turns);

      // The run's table shows the finished step's output, its first line.
      await page.getByRole('link', { name: `Run ${workflowId}` }).click();
      await page
        .getByRole('row', { name: /fix/ })
        .locator('td.output')
        .getByText('It exports a; the tests are checked too.')
        .waitFor();

      // An ended step takes no message: its page offers no box.
      await page.goto(address);
      await page.getByText(/^Ended: /).waitFor();
      expect(await page.getByRole('form', { name: `Message to ${TASK}` }).isHidden()).toBe(true);

      // Over plain HTTP: from the start, every event then `end`; with Last-Event-ID, only those after it.
      const events = `${ui.url}/api/runs/${encodeURIComponent(workflowId)}/steps/${encodeURIComponent(TASK)}/events`;
      const all = await readStream(events);
      expect(all.type).toBe('text/event-stream; charset=utf-8');
      const ids = all.messages.flatMap((m) => (m.id === undefined ? [] : [m.id]));
      expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i + 1));
      expect(all.messages.at(-1)).toEqual({ event: 'end' });
      const later = await readStream(events, { 'last-event-id': String(ids.length - 3) });
      expect(later.messages.flatMap((m) => (m.id === undefined ? [] : [m.id]))).toEqual(ids.slice(-3));
      expect(later.messages.at(-1)).toEqual({ event: 'end' });
      // An id no store can hold is refused before a stream starts.
      const bad = await readStream(events.replace(/steps\/.*\/events$/, 'steps/a%01b/events'));
      expect([bad.status, bad.type]).toEqual([409, 'application/json; charset=utf-8']);
    } finally {
      await page.close();
      await ui.close();
    }
  });
});

test('a message the run refuses shows its one line: an executor that reads none, an ended step; a step with no transcript says why', async () => {
  const executor = new ScriptExecutor({ tasks: { slow: { delayMs: 6000 } } });
  await withWorker({ executor }, async ({ client, taskQueue, store }) => {
    const workflowId = uniqueId('ui-step-script');
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId,
      args: [
        {
          specs: [
            { taskId: 'quick', agent: 'explore', prompt: 'now' },
            { taskId: 'slow', agent: 'explore', prompt: 'wait' },
          ],
        },
      ],
    });
    const ui = await startUiServer({ client, store, port: 0 });
    const page = await chromium.browser.newPage();
    try {
      // The notice stays up across views: wait for this message's verdict, then read it whole.
      const say = async (taskId: string, text: string) => {
        await page.getByLabel('Message to the agent').fill(text);
        await page.getByRole('button', { name: 'Send' }).click();
        const verdict = page.getByRole('alert').filter({ hasText: `Message to ${taskId} ` });
        await verdict.waitFor();
        return verdict.textContent();
      };
      await page.goto(`${ui.url}/#/run/${encodeURIComponent(workflowId)}/step/slow`);
      await expect(say('slow', 'hello')).resolves.toBe(
        `Message to slow refused: ${workflowId}: this run's executor cannot take messages: llm steps read them, command and script steps do not (an executor of your own declares acceptsMessages)`,
      );
      // A page opened on an ended step offers the box until its stream learns the step is over (seconds, for
      // a step that keeps no transcript): the run, still going, refuses, naming why.
      await page.goto(`${ui.url}/#/run/${encodeURIComponent(workflowId)}/step/quick`);
      await page.getByText('Status succeeded').waitFor();
      await expect(say('quick', 'still there?')).resolves.toBe(
        `Message to quick refused: ${workflowId}: step "quick" has ended (succeeded); a message reaches a step that is pending, waiting or running`,
      );
      await page.getByText(/^No transcript: only llm steps keep one/).waitFor({ timeout: 15_000 });
      expect(await page.getByRole('form', { name: 'Message to quick' }).isHidden()).toBe(true);
      await handle.result();
    } finally {
      await page.close();
      await ui.close();
    }
  });
});

test('a delegating step’s page shows the tasks it handed out and their outcomes, each linked to its own page', async () => {
  const protocol = PROTOCOLS[0]!;
  await withFakeModel(
    (request) =>
      isLead(protocol, request)
        ? leadAnswer(protocol, request).reply
        : openAiText(`part ${partOf(request)} done`),
    async ({ client, store, start }) => {
      const handle = await start({ specs: [{ taskId: 'lead', agent: 'lead', prompt: 'split it' }] });
      await handle.result();
      const ui = await startUiServer({ client, store, port: 0 });
      const page = await chromium.browser.newPage();
      try {
        await page.goto(`${ui.url}/#/run/${encodeURIComponent(handle.workflowId)}/step/lead`);
        const transcript = page.getByRole('list', { name: 'Transcript' });
        await transcript.getByText(`Delegated ${PARTS.length} tasks (parallel_task)`).waitFor();
        await page.getByText(/^Ended: the step succeeded\./).waitFor();
        // The lead's transcript has two activities' attempts: the one that delegated, the one that merged.
        await expect(transcript.locator('li.attempt').allTextContents()).resolves.toEqual([
          'Attempt 1 started',
          'Attempt 1 ended: delegated',
          'Attempt 1 started, going on from the saved conversation at round 1',
          'Attempt 1 ended: success',
        ]);
        const back = transcript.locator('li.delegation');
        await expect(back.getByRole('link').allTextContents()).resolves.toEqual(
          PARTS.map((n) => `lead/task-1-${n}`),
        );
        await back.getByRole('link', { name: 'lead/task-1-2' }).click();
        await page.getByRole('heading', { name: 'Step lead/task-1-2' }).waitFor();
        expect(page.url()).toContain('/step/lead%2Ftask-1-2');
        await transcript.locator('.turn .text').getByText('part 2 done').waitFor();
      } finally {
        await page.close();
        await ui.close();
      }
    },
    {
      concurrency: 4,
      agents: {
        lead: { systemPrompt: LEAD_SYSTEM, tools: [], delegation: { agents: ['worker'] } },
        worker: { description: 'Does one part.', systemPrompt: 'You do one part.', tools: [] },
      },
    },
  );
});
