/**
 * Issue #32's acceptance, in Chromium, with nothing in-process but the UI
 * server: a real worker PROCESS runs an llm step against the fake OpenAI
 * server streaming slowly, each turn calling a shell tick and the test MCP
 * server's `count` (over stdio, started by the worker). The step's page shows
 * text as it arrives and each tool call as it is made; the worker is SIGKILLed
 * while a turn streams, a replacement process takes the step over, and the
 * page goes on from the retry, which resumed the saved conversation: no
 * answered turn is told twice. Then the same transcript is read back with
 * `tao transcript --json` (the CLI, a process of its own) and the client's
 * `stepTranscript`, and the two agree with each other and with the page.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stepTranscript } from '../../src/client';
import type { StepOutcome } from '../../src/contracts';
import { FileSessionStore } from '../../src/stores/file-store';
import { startUiServer } from '../../src/ui/server';
import { chromiumPerFile } from '../support/chromium';
import { stopTaoProcesses, tao } from '../support/cli';
import type { FakeReply, FakeRequest } from '../support/fake-http';
import { PROTOCOLS } from '../support/llm-harness';
import { countedCalls, writeCounterAgentConfig } from '../support/mcp-harness';
import { closeDevClient, devClient, devServerAddress } from '../support/temporal';
import { turnOf } from '../support/ticking-agent';
import { startLlmStepOnProcess, stopWorkerProcesses } from '../support/worker-process';

const chromium = chromiumPerFile();
afterAll(async () => {
  await stopWorkerProcesses();
  await stopTaoProcesses();
  await closeDevClient();
});

const openai = PROTOCOLS[0]!;
const TURNS = 5;
const KILL_AT_TURN = 3;
const TASK = 'tracker';

const sentence = (n: number) =>
  `Turn ${n}: ticking once more and counting it, a few words at a time, slowly.`;

/** Turns 1..TURNS-1 stream a sentence, then tick and count; the last answers. Turn KILL_AT_TURN hangs mid-text until the kill. */
function reply(request: FakeRequest, killed: () => boolean): FakeReply {
  const n = turnOf(request);
  if (n >= TURNS) return { ...openai.text(`done after ${TURNS} turns`, [100 * n, 10]), chunkDelayMs: 200 };
  const call = openai.toolCalls(
    [
      { name: 'run_shell', input: { command: `echo ${n} >> ticks.log` } },
      { name: 'counter__count', input: { label: String(n) } },
    ],
    [100 * n, 10],
  );
  (call.body as { choices: [{ message: { content: string } }] }).choices[0].message.content = sentence(n);
  // The role frame and three pieces of the sentence, then nothing: the worker dies with the turn in flight.
  if (n === KILL_AT_TURN && !killed()) return { ...call, chunkDelayMs: 300, hangAfterEvents: 4 };
  return { ...call, chunkDelayMs: 300 };
}

test('a running llm step followed in Chromium across a worker SIGKILL: text and tool calls as they happen, the retry going on with no turn twice; the CLI and the client read the same transcript', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tao-ui-acceptance-'));
  const countFile = join(dir, 'calls.log');
  let killed = false;
  const server = await openai.start((request) => reply(request, () => killed));
  const client = await devClient();
  const store = new FileSessionStore(join(dir, 'store'));
  const ui = await startUiServer({ client, store, port: 0 });
  const page = await chromium.browser.newPage({ viewport: { width: 1300, height: 900 } });
  try {
    const configFile = writeCounterAgentConfig(
      dir,
      { type: 'openai', baseUrl: openai.baseUrl(server) },
      'counter-agent',
      { systemPrompt: 'You tick and count.', tools: ['run_shell'], maxSteps: 12 },
    );
    const { first, handle, startReplacement } = await startLlmStepOnProcess({
      client,
      dir,
      configFile,
      spec: { taskId: TASK, agent: 'counter-agent', prompt: 'tick and count, then say done' },
      env: { MCP_COUNT_FILE: countFile },
    });
    const { workflowId } = handle;
    await page.goto(`${ui.url}/#/run/${encodeURIComponent(workflowId)}/step/${encodeURIComponent(TASK)}`);
    await page.getByText('Live: new events show as they land.').waitFor();
    const transcript = page.getByRole('list', { name: 'Transcript' });
    const turn = (round: number, attempt: number) =>
      transcript.locator('li.turn').filter({ hasText: `Round ${round} · attempt ${attempt}` });

    // Text arrives while the turn streams: part of the sentence, before the turn has ended (no usage yet).
    const firstText = turn(1, 1).locator('.text');
    await firstText.filter({ hasText: /^Turn 1: ticking/ }).waitFor();
    expect(await firstText.textContent()).not.toBe(sentence(1));
    expect(await turn(1, 1).locator('.usage').textContent()).toBe('');
    // Each tool call shows when it is made, and its result when it came back: the MCP server's count.
    const counted = turn(1, 1).locator('details.tool').filter({ hasText: 'Tool call counter__count' });
    await counted.waitFor();
    await counted
      .locator('pre.result')
      .filter({ hasText: /^count=1 label=1 pid=\d+$/ })
      .waitFor({ state: 'attached' }); // folded: its result is in the page, shown when opened
    await expect(page.getByText(/^Ended: /).count()).resolves.toBe(0);

    // Killed while turn 3's text streams, with some of it on the page.
    await turn(KILL_AT_TURN, 1)
      .locator('.text')
      .filter({ hasText: /^Turn 3: / })
      .waitFor();
    await first.kill();
    killed = true;
    await startReplacement();

    // The retry says where it went on from, then tells turn 3 again (it never ended) and the rest.
    await transcript
      .locator('li.attempt')
      .filter({
        hasText: `Attempt 2 started, going on from the saved conversation at round ${KILL_AT_TURN - 1}`,
      })
      .waitFor({ timeout: 60_000 });
    await page.getByText('Ended: the step succeeded.').waitFor({ timeout: 60_000 });
    const [outcome] = (await handle.result()) as StepOutcome[];
    expect(outcome).toMatchObject({ success: true, output: `done after ${TURNS} turns` });

    // On the page: every answered turn once, attempt 1's before the kill and attempt 2's after it.
    const shown = await transcript.locator('li.turn').evaluateAll((items) =>
      items.map((li) => ({
        who: li.querySelector('.who')?.textContent ?? '',
        ended: (li.querySelector('.usage')?.textContent ?? '') !== '',
      })),
    );
    expect(shown.filter((t) => t.ended).map((t) => t.who)).toEqual([
      'Round 1 · attempt 1',
      'Round 2 · attempt 1',
      'Round 3 · attempt 2',
      'Round 4 · attempt 2',
      'Round 5 · attempt 2',
    ]);
    expect(shown.filter((t) => !t.ended).map((t) => t.who)).toEqual(['Round 3 · attempt 1']);
    // No tool ran twice: the count the MCP server kept, one call a turn.
    expect(countedCalls(countFile)).toEqual(['1', '2', '3', '4']);

    // The CLI and the client read the same transcript, the one the page showed.
    const cli = await tao(
      ['transcript', workflowId, TASK, '--json', '--store', `file:${join(dir, 'store')}`],
      { env: { TEMPORAL_ADDRESS: devServerAddress() } },
    );
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    const read = await stepTranscript(store, workflowId, TASK);
    expect(JSON.parse(cli.stdout)).toEqual(JSON.parse(JSON.stringify(read)));
    const events = read!.events;
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.filter((e) => e.kind === 'turn-end').map((e) => [e.round, e.attempt])).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
      [4, 2],
      [5, 2],
    ]);
    expect(events.filter((e) => e.kind === 'tool-call').length).toBe(
      await transcript.locator('details.tool').count(),
    );
  } finally {
    await page.close();
    await ui.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);
