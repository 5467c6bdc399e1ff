/**
 * Messages into a running agent (the `message` Update, `sendMessage`, `tao
 * say`): an llm step on the dev server against the fake OpenAI server over
 * real HTTP. A message sent while a model call streams reaches the agent as
 * a user turn before its next call, once; one sent to a step not yet started
 * comes with its prompt; one sent while the agent gives its final answer
 * makes it answer again. The run's validator refuses what cannot be read.
 */
import { rerunRun, sendMessage } from '../../src/client';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import type { Progress } from '../../src/workflows/lib';
import { StepMessages } from '../../src/workflows/lib/messages';
import { ProgressBoard } from '../../src/workflows/lib/progress';
import { LEAD_SYSTEM, isLead, leadAnswer, partOf } from '../support/delegating-agent';
import type { FakeRequest } from '../support/fake-http';
import { withFakeModel } from '../support/fake-model-run';
import { openAiText, openAiToolCalls, openAiToolResults } from '../support/fake-openai';
import { PROTOCOLS } from '../support/llm-harness';
import { eventually } from '../support/gate-executor';
import { tao } from '../support/cli';
import { updateFromCli } from '../support/temporal-cli';
import { closeDevClient, devServerAddress, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const server = () => ['--address', devServerAddress()];

// Long enough for a test to send a message while the answer streams in.
const SLOW = { chunkDelayMs: 600 };

type Said = { role: string; content: string | null };
const said = (request: FakeRequest): Said[] => request.body.messages as Said[];
const userTurns = (request: FakeRequest) =>
  said(request)
    .filter((m) => m.role === 'user')
    .map((m) => m.content);

/** The step whose prompt is `first` answers slowly, so a message can reach a later step before it starts. */
const slowFirst = (request: FakeRequest) =>
  userTurns(request)[0] === 'first' ? { ...openAiText('one'), ...SLOW } : openAiText('two');

const arrived = (requests: FakeRequest[], count: number) =>
  eventually(async () => (requests.length >= count ? true : undefined));

test('a message sent while a model call streams reaches the agent before its next call, once', async () => {
  // The first call streams until the message was sent: it goes through a CLI process, which can take seconds to start on a busy machine.
  let sent!: () => void;
  const messageSent = new Promise<void>((resolve) => (sent = resolve));
  await withFakeModel(
    (request, index) => {
      if (index === 0)
        return {
          ...openAiToolCalls([{ name: 'read_file', input: { path: 'src/a.ts' } }]),
          chunkDelayMs: 200,
          lastEventAfter: messageSent,
        };
      const heard = userTurns(request).includes('also check the tests');
      return openAiText(
        heard ? `read ${Object.values(openAiToolResults(request))[0]!.trim()}; tests checked` : 'read',
      );
    },
    async ({ requests, start, store }) => {
      const handle = await start({ specs: [{ taskId: 'fix', agent: 'explore', prompt: 'Fix src/a.ts' }] });
      await arrived(requests, 1);
      // Through the CLI, as a person would; the words after the step are the message.
      const cli = await tao(['say', handle.workflowId, 'fix', 'also', 'check', 'the', 'tests', ...server()]);
      sent();
      expect(cli).toMatchObject({ code: 0, stderr: '' });
      expect(cli.stdout.trim()).toBe(
        `message 1 for step fix of ${handle.workflowId} sent: its agent reads it before its next model call`,
      );
      const [outcome]: StepOutcome[] = await handle.result();
      expect(outcome).toMatchObject({ success: true, output: 'read export const a = 1;; tests checked' });
      expect(requests).toHaveLength(2);
      // After the tool's result, as the next user turn: the call in flight was not interrupted.
      expect(said(requests[1]!).map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'user']);
      expect(userTurns(requests[1]!)).toEqual(['Fix src/a.ts', 'also check the tests']);
      const progress = await handle.query<Progress>('progress');
      expect(progress.steps[0]).toMatchObject({ taskId: 'fix', messages: 1 });
      // The step's transcript tells the message where the agent got it, between its two turns.
      const transcript = await store.transcripts!.readTranscript({
        workflowId: handle.workflowId,
        taskId: 'fix',
      });
      const kinds = transcript!.events.map((e) =>
        e.kind === 'message' ? `message ${e.number}: ${e.text}` : e.kind,
      );
      expect(kinds.filter((k) => k.startsWith('message') || k === 'turn-end')).toEqual([
        'turn-end',
        'message 1: also check the tests',
        'turn-end',
      ]);
      // The Update is the run's record of what was said.
      const events = (await handle.fetchHistory()).events ?? [];
      expect(events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(1);
    },
  );
});

test("a message to a step that has not started comes with its prompt (sent with the Temporal CLI's update command); a rerun does not replay it", async () => {
  await withFakeModel(slowFirst, async ({ client, requests, start }) => {
    const handle = await start({
      specs: [
        { taskId: 'a', agent: 'explore', prompt: 'first' },
        { taskId: 'b', agent: 'explore', prompt: 'second' },
      ],
      concurrency: 1,
    });
    await arrived(requests, 1);
    const sent = { taskId: 'b', text: 'write it in French' };
    await expect(updateFromCli(handle.workflowId, 'message', sent)).resolves.toEqual({
      taskId: 'b',
      seq: 1,
    });
    await handle.result();
    expect(requests.map(userTurns)).toEqual([['first'], ['second', 'write it in French']]);
    // The rerun runs b again (and reuses a): the message was this run's, in its history, not the spec's.
    const rerun = await rerunRun(client, handle.workflowId, { from: 'b' });
    await rerun.handle.result();
    expect(requests.slice(2).map(userTurns)).toEqual([['second']]);
  });
});

test('in a pipeline, a resumable run and a loop, a message to a step not yet started comes with its prompt', async () => {
  await withFakeModel(slowFirst, async ({ client, requests, taskQueue }) => {
    const runs = [
      {
        workflowType: 'pipelineWorkflow',
        input: {
          items: ['first', 'second'],
          stages: [{ taskId: 's-{{index}}', agent: 'explore', prompt: '{{item}}' }],
          concurrency: 1,
        },
        later: 's-1',
      },
      {
        workflowType: 'resumableParallelWorkflow',
        input: {
          checkpointId: uniqueId('messages-ck'),
          specs: [
            { taskId: 'a', agent: 'explore', prompt: 'first' },
            { taskId: 'b', agent: 'explore', prompt: 'second' },
          ],
          concurrency: 1,
        },
        later: 'b',
      },
      {
        workflowType: 'loopWorkflow',
        input: {
          initial: [
            { taskId: 'a', agent: 'explore', prompt: 'first' },
            { taskId: 'b', agent: 'explore', prompt: 'second' },
          ],
          maxIterations: 1,
          concurrency: 1,
        },
        later: 'b',
      },
    ];
    for (const { workflowType, input, later } of runs) {
      requests.length = 0;
      const handle = await client.workflow.start(workflowType, {
        taskQueue,
        workflowId: uniqueId('messages-kinds'),
        args: [input],
      });
      await arrived(requests, 1);
      await sendMessage(handle, later, 'write it in French');
      await handle.result();
      expect([workflowType, requests.map(userTurns)]).toEqual([
        workflowType,
        [['first'], ['second', 'write it in French']],
      ]);
    }
  });
});

test('a message that comes while the agent gives its final answer makes it answer again', async () => {
  await withFakeModel(
    (_request, index) => (index === 0 ? { ...openAiText('draft'), ...SLOW } : openAiText('revised')),
    async ({ requests, start }) => {
      const handle = await start({ specs: [{ taskId: 'w', agent: 'explore', prompt: 'write' }] });
      await arrived(requests, 1);
      await sendMessage(handle, 'w', 'shorter, please');
      const [outcome]: StepOutcome[] = await handle.result();
      expect(outcome).toMatchObject({ success: true, output: 'revised' });
      expect(said(requests[1]!).map((m) => [m.role, m.content])).toEqual([
        ['system', expect.any(String)],
        ['user', 'write'],
        ['assistant', 'draft'],
        ['user', 'shorter, please'],
      ]);
    },
  );
});

test('the run refuses a message to an ended or unknown step, an empty one, and one its executor cannot read', async () => {
  await withFakeModel(
    (request) =>
      userTurns(request)[0] === 'slow' ? { ...openAiText('late'), ...SLOW } : openAiText('quick'),
    async ({ requests, start }) => {
      const handle = await start({
        specs: [
          { taskId: 'quick', agent: 'explore', prompt: 'quick' },
          { taskId: 'slow', agent: 'explore', prompt: 'slow' },
        ],
      });
      await arrived(requests, 2);
      await eventually(async () => {
        const progress = await handle.query<Progress>('progress');
        return progress.steps.find((s) => s.taskId === 'quick')?.status === 'succeeded' ? true : undefined;
      });
      await expect(sendMessage(handle, 'quick', 'too late')).rejects.toThrow(
        'step "quick" has ended (succeeded); a message reaches a step that is pending, waiting or running',
      );
      await expect(sendMessage(handle, 'nope', 'hello')).rejects.toThrow('no step "nope" in this run');
      await expect(sendMessage(handle, 'slow', '   ')).rejects.toThrow(/message needs .*text/);
      const none = await tao(['say', handle.workflowId, 'slow', ...server()]);
      expect(none.code).toBe(2);
      expect(none.stderr.trim()).toBe('tao: no message: give its text after the step, or --file <file>');
      await handle.result();
      await expect(sendMessage(handle, 'slow', 'after')).rejects.toThrow(
        'is COMPLETED, not running; nothing to message',
      );
    },
  );
  const executor = new ScriptExecutor({ default: { delayMs: 3_000 } });
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('messages-script'),
      args: [{ specs: [{ taskId: 's', agent: 'any', prompt: 'x' }] }],
    });
    await eventually(async () =>
      (await handle.query<Progress>('progress')).steps.length > 0 ? true : undefined,
    );
    await expect(sendMessage(handle, 's', 'hello')).rejects.toThrow(
      "this run's executor cannot take messages: llm steps read them, command and script steps do not",
    );
    await handle.cancel();
  });
});

test('an execution that continues as new passes on the messages of steps not yet ended, and the next one delivers them', async () => {
  // What continue-as-new hands on (carryOver), as the next execution's input.
  await withFakeModel(
    () => openAiText('done'),
    async ({ requests, start }) => {
      const handle = await start({
        specs: [{ taskId: 'deferred', agent: 'explore', prompt: 'go' }],
        messages: { deferred: [{ seq: 1, text: 'sent before the run continued' }] },
      });
      await handle.result();
      expect(requests.map(userTurns)).toEqual([['go', 'sent before the run continued']]);
    },
  );
  const board = new ProgressBoard();
  const messages = new StepMessages(board);
  board.addStep({ taskId: 'ended', agent: 'a' }, 'running');
  board.addStep({ taskId: 'waiting', agent: 'a' }, 'pending');
  messages.add({ taskId: 'ended', text: 'too late' });
  messages.add({ taskId: 'waiting', text: 'first' });
  messages.add({ taskId: 'waiting', text: 'second' });
  board.latest('ended')!.status = 'succeeded';
  const carried = messages.pending();
  expect(carried).toEqual({
    waiting: [
      { seq: 1, text: 'first' },
      { seq: 2, text: 'second' },
    ],
  });
  const next = new StepMessages(new ProgressBoard());
  next.restore(carried);
  expect(next.after('waiting', 1)).toEqual([{ seq: 2, text: 'second' }]);
});

test('a delegated task takes a message by its own task id', async () => {
  const protocol = PROTOCOLS[0]!;
  await withFakeModel(
    (request) => {
      if (isLead(protocol, request)) return leadAnswer(protocol, request).reply;
      const part = partOf(request);
      if (part !== '2') return openAiText(`part ${part}`);
      return userTurns(request).includes('mention the risks')
        ? openAiText('part 2, risks included')
        : { ...openAiText('part 2'), ...SLOW };
    },
    async ({ requests, start }) => {
      const handle = await start({ specs: [{ taskId: 'lead', agent: 'lead', prompt: 'split it' }] });
      await eventually(async () => (requests.some((r) => partOf(r) === '2') ? true : undefined));
      expect(await sendMessage(handle, 'lead/task-1-2', 'mention the risks')).toEqual({
        taskId: 'lead/task-1-2',
        seq: 1,
      });
      const [outcome]: StepOutcome[] = await handle.result();
      expect(outcome!.output).toContain('part 2, risks included');
      expect(requests.filter((r) => partOf(r) === '2').map(userTurns)).toEqual([
        ['do part 2'],
        ['do part 2', 'mention the risks'],
      ]);
    },
    {
      agents: {
        lead: { systemPrompt: LEAD_SYSTEM, tools: [], delegation: { agents: ['worker'] } },
        worker: { description: 'Does one part.', systemPrompt: 'You do one part.', tools: [] },
      },
    },
  );
});
