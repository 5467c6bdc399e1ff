/**
 * Tool calls a person decides (an `ask` rule of an agent's toolApproval),
 * end to end on the dev server against the fake OpenAI server, with real
 * `run_shell` in a scratch workspace: the step's attempt ends with its
 * conversation saved and it waits, holding no slot, as a decision of kind
 * `tool`; the inbox shows the call, its arguments and the agent's reason.
 * Approve runs it (with edited arguments, if given), reject tells the model
 * the comment, and "approve for this run" lets every later call the rule
 * matches run unasked, in any step. What ran is checked on disk.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { answerStep, approveStep, pendingDecisions, rejectStep } from '../../src/client';
import type { StepOutcome } from '../../src/contracts';
import { tao } from '../support/cli';
import { updateFromCli } from '../support/temporal-cli';
import type { FakeRequest } from '../support/fake-http';
import { type FakeModelRun, withFakeModel } from '../support/fake-model-run';
import { openAiText, openAiToolCalls } from '../support/fake-openai';
import { eventually, untilWaitingOn } from '../support/gate-executor';
import { ScriptExecutor } from '../../src/executors/script';
import { closeDevClient, devServerAddress, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

type Message = { role: string; content: string };

/**
 * The agent's prompt is a JSON list of shell commands: it runs them one a
 * turn, saying why, then answers with every result it got, in order.
 */
function model(request: FakeRequest) {
  const messages = request.body.messages as Message[];
  const commands = JSON.parse(messages[1]!.content) as string[];
  const results = messages.filter((m) => m.role === 'tool').map((m) => m.content);
  const next = commands[results.length];
  if (next === undefined) return openAiText(results.join(' | '));
  return openAiToolCalls([{ name: 'run_shell', input: { command: next } }]);
}

const withFixer = (body: (run: FakeModelRun) => Promise<void>) =>
  withFakeModel(model, body, {
    agents: {
      fixer: {
        systemPrompt: 'You fix.',
        tools: ['run_shell'],
        toolApproval: {
          default: 'deny',
          rules: [
            { decision: 'ask', tool: 'run_shell', prefix: 'rm' },
            { decision: 'allow', tool: 'run_shell', prefix: 'ls' },
          ],
        },
      },
    },
  });

const step = (taskId: string, commands: string[]) => ({
  taskId,
  agent: 'fixer',
  prompt: JSON.stringify(commands),
});

test('a call an ask rule matches waits for a person: reject tells the agent why, approve runs the edited call', async () => {
  await withFixer(async (run) => {
    const { client, workspace } = run;
    for (const dir of ['build', 'junk1', 'junk2']) mkdirSync(join(workspace, dir));
    const handle = await run.start({
      specs: [step('r', ['ls', 'rm -rf build']), step('e', ['rm -rf junk1'])],
      concurrency: 1,
    });
    // At concurrency 1 both get to their call: a step waiting on one holds no slot.
    await untilWaitingOn(handle, 'tool', 'r', 'e');
    const { pending } = await pendingDecisions(client, {
      query: `WorkflowId = "${handle.workflowId}"`,
      withText: true,
    });
    expect(pending.find((p) => p.taskId === 'r')).toEqual({
      workflowId: handle.workflowId,
      taskId: 'r',
      agent: 'fixer',
      decision: 'tool',
      text: 'run_shell {"command":"rm -rf build"}\nasked by toolApproval.rules.0 (ask run_shell(rm:*))',
      toolCall: {
        tool: 'run_shell',
        input: { command: 'rm -rf build' },
        reason: '',
        rule: 'toolApproval.rules.0 (ask run_shell(rm:*))',
      },
    });
    const listed = await tao([
      'pending',
      '--address',
      devServerAddress(),
      '--query',
      `WorkflowId = "${handle.workflowId}"`,
    ]);
    expect(listed.stdout).toContain(`${handle.workflowId}  r  (fixer)  waiting on its agent's tool call`);

    // Decisions that do not fit a tool call are refused, with the fix.
    await expect(answerStep(handle, 'r', 'yes')).rejects.toThrow(
      'step "r" is waiting, not waiting for an answer',
    );
    await expect(approveStep(handle, { taskId: 'r', output: 'x' })).rejects.toThrow(
      'step "r" waits for a decision on a tool call: give edited arguments as input, not output',
    );
    await expect(rejectStep(handle, { taskId: 'r', forRun: true })).rejects.toThrow(
      'input and forRun go with approve; a reject takes only a comment',
    );

    await rejectStep(handle, { taskId: 'r', comment: 'keep build, it is cached' });
    const approved = await tao([
      'approve',
      handle.workflowId,
      'e',
      '--input',
      '{"command":"rm -rf junk2"}',
      '--address',
      devServerAddress(),
    ]);
    expect(approved).toMatchObject({ code: 0, stderr: '' });
    const outcomes: StepOutcome[] = await handle.result();

    const [r, e] = outcomes;
    expect(r).toMatchObject({ taskId: 'r', success: true });
    expect(r!.output).toMatch(/^exit status 0\n--- stdout ---\n/);
    expect(r!.output).toContain(
      ' | error: a person rejected this call: keep build, it is cached. The call did not run.',
    );
    expect(existsSync(join(workspace, 'build'))).toBe(true);
    expect(e).toMatchObject({ taskId: 'e', success: true });
    expect(e!.output).toMatch(
      /^\[a person edited the arguments before it ran; it ran with {"command":"rm -rf junk2"}\]\nexit status 0/,
    );
    expect([existsSync(join(workspace, 'junk1')), existsSync(join(workspace, 'junk2'))]).toEqual([
      true,
      false,
    ]);

    // The transcript tells the ask and the decision; history keeps who decided what, as the Updates.
    const transcript = await run.store.transcripts!.readTranscript({
      workflowId: handle.workflowId,
      taskId: 'e',
    });
    const decisions = transcript!.events.flatMap((event) =>
      event.kind === 'tool-decision' ? [[event.decision, event.rule ?? event.input]] : [],
    );
    expect(decisions).toEqual([
      ['asked', 'toolApproval.rules.0 (ask run_shell(rm:*))'],
      ['approved', '{"command":"rm -rf junk2"}'],
    ]);
    const updates = ((await handle.fetchHistory()).events ?? []).flatMap((event) => {
      const accepted = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest;
      return accepted ? [[accepted.input?.name, accepted.meta?.identity ? 'identified' : 'anonymous']] : [];
    });
    expect(updates).toEqual([
      ['reject', 'identified'],
      ['approve', 'identified'],
    ]);
  });
});

test('approve for this run: calls the same rule matches run unasked, in any step, waiting or later', async () => {
  await withFixer(async (run) => {
    const { workspace } = run;
    for (const dir of ['old1', 'old2', 'old3', 'keep']) mkdirSync(join(workspace, dir));
    const handle = await run.start({
      specs: [step('a', ['rm -rf old1', 'rm -rf old2']), step('b', ['rm -rf old3'])],
      concurrency: 1,
    });
    await untilWaitingOn(handle, 'tool', 'a');
    await approveStep(handle, { taskId: 'a', forRun: true });
    const outcomes: StepOutcome[] = await handle.result();
    expect(outcomes.map((o) => [o.taskId, o.success])).toEqual([
      ['a', true],
      ['b', true],
    ]);
    expect(['old1', 'old2', 'old3', 'keep'].map((dir) => existsSync(join(workspace, dir)))).toEqual([
      false,
      false,
      false,
      true,
    ]);
    // b asked before the grant came (a's wait held no slot), and went on once it did; nothing asked after.
    const asked = [];
    for (const taskId of ['a', 'b']) {
      const transcript = await run.store.transcripts!.readTranscript({
        workflowId: handle.workflowId,
        taskId,
      });
      asked.push(...transcript!.events.filter((e) => e.kind === 'tool-decision' && e.decision === 'asked'));
    }
    expect(asked.map((e) => e.kind === 'tool-decision' && e.callId)).toEqual(['call_0', 'call_0']);
    const bTold = (await run.store.transcripts!.readTranscript({
      workflowId: handle.workflowId,
      taskId: 'b',
    }))!;
    expect(
      bTold.events.filter((e) => e.kind === 'attempt-end').map((e) => e.kind === 'attempt-end' && e.result),
    ).toEqual(['asked', 'success']);
  });
});

test('in a split run, a grant made in one child reaches the steps waiting in the others', async () => {
  const ids = ['c0', 'c1', 'c2', 'c3'];
  const executor = new ScriptExecutor({
    tasks: Object.fromEntries(
      ids.map((id) => [
        id,
        { toolCall: { tool: 'run_shell', input: { command: `rm -rf ${id}` } }, output: '{{toolDecision}}' },
      ]),
    ),
  });
  await withWorker({ executor }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('split-grant'),
      args: [
        {
          specs: ids.map((id) => ({ taskId: id, agent: 'fixer', prompt: id })),
          concurrency: 4,
          maxStepsPerRun: 2,
        },
      ],
    });
    // Two children of two steps each; every step waits on its call.
    const pending = await eventually(async () => {
      const found = await pendingDecisions(client, {
        query: `WorkflowId STARTS_WITH "${handle.workflowId}/"`,
      });
      return found.pending.length === 4 ? found.pending : undefined;
    });
    const holder = pending.find((p) => p.taskId === 'c0')!;
    expect(holder.workflowId).toBe(`${handle.workflowId}/part1-0`);
    // With the Temporal CLI's update command, as a person without tao would.
    await expect(
      updateFromCli(holder.workflowId, 'approve', { taskId: 'c0', forRun: true }),
    ).resolves.toEqual({
      taskId: 'c0',
      decided: 'approved',
    });
    const outcomes: StepOutcome[] = await handle.result();
    expect(outcomes.map((o) => [o.taskId, o.output])).toEqual([
      ['c0', 'approved'],
      ['c1', 'granted'],
      ['c2', 'granted'],
      ['c3', 'granted'],
    ]);
  });
});
