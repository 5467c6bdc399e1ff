/**
 * Questions from an agent (an llm profile's `askUser`, the `ask_user`
 * tool), end to end on the dev server against the fake OpenAI server: the
 * step's attempt ends with its conversation saved, the step waits as a
 * decision of kind `question` holding no slot, the inbox shows the question,
 * and the answer resumes the agent as the tool's result. A wait that times
 * out gives the stated default answer, or fails the step.
 */
import { answerStep, approveStep, pendingDecisions } from '../../src/client';
import type { StepOutcome } from '../../src/contracts';
import type { LlmConfigFile } from '../../src/executors/llm/config';
import type { Progress } from '../../src/workflows/lib';
import { tao } from '../support/cli';
import type { FakeRequest } from '../support/fake-http';
import { type FakeModelRun, withFakeModel } from '../support/fake-model-run';
import { openAiText, openAiToolCalls, openAiToolResults } from '../support/fake-openai';
import { eventually } from '../support/gate-executor';
import { closeDevClient, devServerAddress } from '../support/temporal';

afterAll(closeDevClient);

const ASK = { question: 'Which API did you mean?', choices: ['v1', 'v2'] };

/** Asks first; once the request carries the answer (the tool's result), uses it. */
function model(request: FakeRequest) {
  if (request.body.messages[0].content !== 'You ask.') return openAiText('other done');
  const [answer] = Object.values(openAiToolResults(request));
  return answer === undefined
    ? openAiToolCalls([{ name: 'ask_user', input: ASK }])
    : openAiText(`using ${answer}`);
}

const withAsker = (
  askUser: NonNullable<LlmConfigFile['agents']>[string]['askUser'],
  body: (run: FakeModelRun) => Promise<void>,
) => withFakeModel(model, body, { agents: { asker: { systemPrompt: 'You ask.', tools: [], askUser } } });

/** A parallel run of `specs` at concurrency 1. */
const ask = (run: FakeModelRun, specs: object[]) => run.start({ specs, concurrency: 1 });

test('the agent asks; the step waits holding no slot, the inbox shows the question, and the answer resumes it', async () => {
  await withAsker(true, async (run) => {
    const { client, requests } = run;
    const handle = await ask(run, [
      { taskId: 'q', agent: 'asker', prompt: 'wire the client' },
      { taskId: 'other', agent: 'explore', prompt: 'look around' },
    ]);
    // At concurrency 1 the other step runs while q waits: the wait holds no slot.
    await eventually(async () => {
      const { steps } = await handle.query<Progress>('progress');
      const status = Object.fromEntries(steps.map((s) => [s.taskId, [s.status, s.decision]]));
      return status.q?.[0] === 'waiting' && status.other?.[0] === 'succeeded' ? status : undefined;
    }).then((status) => expect(status.q).toEqual(['waiting', 'question']));
    const { pending } = await pendingDecisions(client, {
      query: `WorkflowId = "${handle.workflowId}"`,
      withText: true,
    });
    expect(pending).toEqual([
      {
        workflowId: handle.workflowId,
        taskId: 'q',
        agent: 'asker',
        decision: 'question',
        text: 'Which API did you mean?\nchoices: v1 | v2',
      },
    ]);
    await expect(approveStep(handle, { taskId: 'q' })).rejects.toThrow(
      'step "q" waits for the answer to its question: answer it (tao answer), not approve or reject',
    );
    const cli = await tao(['answer', handle.workflowId, 'q', 'v2', '--address', devServerAddress()]);
    expect(cli).toMatchObject({ code: 0, stderr: '' });
    const outcomes: StepOutcome[] = await handle.result();
    expect(outcomes.map((o) => [o.taskId, o.success, o.output])).toEqual([
      ['q', true, 'using v2'],
      ['other', true, 'other done'],
    ]);
    const asked = requests.filter((r) => r.body.messages[0].content === 'You ask.');
    expect(asked).toHaveLength(2);
    expect(openAiToolResults(asked[1]!)).toEqual({ call_0: 'v2' });
    // The transcript: the asking attempt ends as asked, the next tells the answer as the call's result.
    const transcript = await run.store.transcripts!.readTranscript({
      workflowId: handle.workflowId,
      taskId: 'q',
    });
    const told = transcript!.events.flatMap((e) =>
      e.kind === 'attempt-end' ? [e.result] : e.kind === 'tool-result' ? [`result ${e.content}`] : [],
    );
    expect(told).toEqual(['asked', 'result v2', 'success']);
    await expect(answerStep(handle, 'q', 'again')).rejects.toThrow(
      'is COMPLETED, not running; nothing to answer',
    );
    // The wait is in history as the answer Update between the step's two activities.
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(1);
  });
});

test('a question not answered in time gets the stated default answer, or fails the step', async () => {
  await withAsker({ timeoutMs: 1_000, onTimeout: { answer: 'v1' } }, async (run) => {
    const [outcome]: StepOutcome[] = await (
      await ask(run, [{ taskId: 'q', agent: 'asker', prompt: 'go' }])
    ).result();
    expect(outcome).toMatchObject({ success: true, output: 'using v1' });
  });
  await withAsker({ timeoutMs: 1_000 }, async (run) => {
    const [outcome]: StepOutcome[] = await (
      await ask(run, [{ taskId: 'q', agent: 'asker', prompt: 'go' }])
    ).result();
    expect(outcome).toMatchObject({
      success: false,
      error: 'no answer within 1000 ms to its question: Which API did you mean?',
    });
  });
});
