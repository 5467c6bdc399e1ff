/**
 * Delegation by an llm agent, over real HTTP to the fake providers: the
 * `task` and `parallel_task` tools end the attempt with the calls to run, and
 * a resumed attempt reads each call's outcomes as one tool result and goes
 * on. Workflow code sits between the two attempts; here the test plays it,
 * handing back the state through JSON as the data converter would.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createAgentStepActivity } from '../../src/activities/agent-step';
import type { StepRun } from '../../src/activity-api';
import {
  type DelegationAllowance,
  type DelegationRequest,
  DelegationRequestSchema,
  type StepOutcome,
} from '../../src/contracts';
import { NonRetryableStepError } from '../../src/executors/executor';
import type { LlmExecutor } from '../../src/executors/llm/llm-executor';
import type { FakeServer } from '../support/fake-http';
import {
  PROTOCOLS,
  type ProtocolHarness,
  fakeExecutor,
  fakeProviderPerTest,
  llmSpec,
  stepContext,
} from '../support/llm-harness';

const leadConfig = {
  agents: {
    lead: {
      systemPrompt: 'You lead reviews. You split them into independent tasks.',
      tools: ['read_file' as const],
      delegation: { agents: ['review', 'explore'], maxTasksPerCall: 3, maxTasksPerStep: 4 },
    },
  },
};
const spec = llmSpec({ taskId: 'lead-1', agent: 'lead', prompt: 'Review src/ file by file' });

/** A step context as workflow code that runs delegated tasks builds it. */
const offering = (
  delegation: DelegationAllowance,
  extra: { tokensLeft?: number; resumeState?: unknown } = {},
) => ({
  ...stepContext(1, extra.resumeState),
  delegation,
  ...(extra.tokensLeft !== undefined ? { tokensLeft: extra.tokensLeft } : {}),
});

async function delegated(
  executor: LlmExecutor,
  delegation: DelegationAllowance = { depth: 0 },
): Promise<DelegationRequest> {
  const result = await executor.executeStep(spec, offering(delegation));
  if (!('delegation' in result))
    throw new Error(`expected a delegation, got the outcome ${JSON.stringify(result)}`);
  // What workflow code gets is what crossed the data converter.
  return DelegationRequestSchema.parse(JSON.parse(JSON.stringify(result.delegation)));
}

const reviewTasks = [
  { agent: 'review', description: 'review a.ts', prompt: 'Review src/a.ts' },
  { agent: 'review', description: 'review b.ts', prompt: 'Review src/b.ts', max_steps: 4 },
  {
    agent: 'explore',
    description: 'map the README',
    prompt: 'Summarise README.md',
    output_schema: { type: 'object', properties: { summary: { type: 'string' } }, required: ['summary'] },
  },
];

const child = (n: number, agent: string, rest: Partial<StepOutcome>): StepOutcome => ({
  taskId: `lead-1/task-1-${n}`,
  agent,
  sessionId: `task-run-lead-1/task-1-${n}`,
  output: '',
  success: true,
  ...rest,
});

/** 5803 UTF-8 bytes whose two cuts (at 3000 and 800 from the end) both fall inside a three-byte "€". */
const LONG_OUTPUT = `${'a'.repeat(2999)}€${'b'.repeat(2000)}€${'c'.repeat(798)}`;
const threeOutcomes = [
  child(1, 'review', { output: LONG_OUTPUT }),
  child(2, 'review', {
    sessionId: '',
    output: 'half a review',
    success: false,
    error: 'no final answer within maxSteps 4 rounds',
  }),
  child(3, 'explore', { output: '{"summary":"a demo"}', structured: { summary: 'a demo' } }),
];
const THREE_RESULTS = `Executed 3 tasks concurrently:

--- Task 1 (review) [OK] ---
Task completed: lead-1/task-1-1
Agent: review
Session: task-run-lead-1/task-1-1
Task ID: lead-1/task-1-1
Output excerpt: truncated for parent context (5803 bytes in full, kept in the outcome of step lead-1/task-1-1).
${'a'.repeat(2999)}

[2006 bytes omitted from delegated task output]

${'c'.repeat(798)}

--- Task 2 (review) [ERR] ---
Task failed: lead-1/task-1-2
Agent: review
Task ID: lead-1/task-1-2
Error: no final answer within maxSteps 4 rounds
Output:
half a review

--- Task 3 (explore) [OK] ---
Task completed: lead-1/task-1-3
Agent: explore
Session: task-run-lead-1/task-1-3
Task ID: lead-1/task-1-3
Structured: {"summary":"a demo"}
Output:
{"summary":"a demo"}

`;

const callId = (protocol: ProtocolHarness, index: number) =>
  `${protocol.type === 'openai' ? 'call' : 'toolu'}_${index}`;

describe.each(PROTOCOLS)('delegation over the $type protocol', (protocol) => {
  const fixture = fakeProviderPerTest(protocol);
  const executor = () => fakeExecutor(protocol, fixture.server, fixture.workspace, leadConfig);
  const requests = (): FakeServer['requests'] => fixture.server.requests;

  test('parallel_task with 3 tasks delegates them; resumed with their outcomes, the model reads them and answers', async () => {
    fixture.server.reply(
      protocol.toolCalls([{ name: 'parallel_task', input: { tasks: reviewTasks } }], [100, 20]),
      protocol.text('a.ts is fine; b.ts was not reviewed; the README is a demo', [200, 30]),
    );
    const lead = await executor();
    const request = await delegated(lead);

    expect(request).toEqual({
      calls: [
        {
          callId: callId(protocol, 0),
          tool: 'parallel_task',
          tasks: [
            { agent: 'review', description: 'review a.ts', prompt: 'Review src/a.ts' },
            { agent: 'review', description: 'review b.ts', prompt: 'Review src/b.ts', maxSteps: 4 },
            {
              agent: 'explore',
              description: 'map the README',
              prompt: 'Summarise README.md',
              outputSchema: reviewTasks[2]!.output_schema,
            },
          ],
          allowPartialFailure: false,
        },
      ],
      state: expect.objectContaining({ kind: 'tao.llm.delegation/1' }),
      usage: expect.objectContaining({ inputTokens: 100, outputTokens: 20, model: 'fake-model' }),
      maxDepth: 2,
    });
    expect(requests()).toHaveLength(1);
    const offered = protocol.toolSpec(requests()[0]!, 'task')!;
    expect(protocol.toolNames(requests()[0]!)).toEqual(['read_file', 'task', 'parallel_task']);
    expect(offered.parameters).toMatchObject({
      required: ['agent', 'description', 'prompt'],
      additionalProperties: false,
      properties: { agent: { type: 'string', enum: ['explore', 'review'] } },
    });
    expect(offered.description).toMatch(
      /Agents you may use:\n- explore: Reads and searches the workspace.*\n- review: Reviews code for concrete defects/,
    );
    expect(protocol.toolSpec(requests()[0]!, 'parallel_task')!.parameters).toMatchObject({
      required: ['tasks'],
      properties: { tasks: { minItems: 2, maxItems: 3 }, allow_partial_failure: { type: 'boolean' } },
    });

    const resumed = offering({
      depth: 0,
      resume: { state: request.state, results: [{ callId: callId(protocol, 0), outcomes: threeOutcomes }] },
    });
    const outcome = await lead.executeStep(spec, resumed);
    expect(outcome).toMatchObject({
      taskId: 'lead-1',
      success: true,
      output: 'a.ts is fine; b.ts was not reviewed; the README is a demo',
      usage: { inputTokens: 300, outputTokens: 50 },
    });
    expect(requests()).toHaveLength(2);
    expect(protocol.toolResults(requests()[1]!)).toEqual({ [callId(protocol, 0)]: THREE_RESULTS });
    // The resumed request is the first one's conversation, the call and its result added.
    expect(requests()[1]!.body.messages.slice(0, requests()[0]!.body.messages.length)).toEqual(
      requests()[0]!.body.messages,
    );
  });

  test('task takes one task; its result goes back in the call order, before a tool result recorded earlier', async () => {
    fixture.server.reply(
      protocol.toolCalls([
        { name: 'task', input: { agent: 'review', description: 'review a.ts', prompt: 'Review src/a.ts' } },
        { name: 'read_file', input: { path: 'src/b.ts' } },
      ]),
      protocol.text('done'),
    );
    const lead = await executor();
    const request = await delegated(lead);
    expect(request.calls).toEqual([
      {
        callId: callId(protocol, 0),
        tool: 'task',
        tasks: [{ agent: 'review', description: 'review a.ts', prompt: 'Review src/a.ts' }],
        allowPartialFailure: false,
      },
    ]);

    const outcomes = [child(1, 'review', { output: 'LGTM' })];
    const outcome = await lead.executeStep(
      spec,
      offering({
        depth: 0,
        resume: { state: request.state, results: [{ callId: callId(protocol, 0), outcomes }] },
      }),
    );
    expect(outcome).toMatchObject({ success: true, output: 'done' });
    const results = protocol.toolResults(requests()[1]!);
    expect(Object.keys(results)).toEqual([callId(protocol, 0), callId(protocol, 1)]);
    expect(results[callId(protocol, 0)]).toBe(
      'Task completed: lead-1/task-1-1\nAgent: review\nSession: task-run-lead-1/task-1-1\nTask ID: lead-1/task-1-1\nOutput:\nLGTM',
    );
    expect(results[callId(protocol, 1)]).toBe('export const b = 2; // TODO: remove\n');
  });

  test('calls the model can fix are refused as error results it reads, and the loop goes on', async () => {
    const valid = reviewTasks.slice(0, 2);
    fixture.server.reply(
      protocol.toolCalls([
        { name: 'task', input: { agent: 'review', description: 'no prompt' } },
        { name: 'task', input: { agent: 'review', description: 'x', prompt: 'p', background: true } },
        { name: 'parallel_task', input: { tasks: [...reviewTasks, reviewTasks[0]] } },
        { name: 'parallel_task', input: { tasks: [reviewTasks[0]] } },
        { name: 'task', input: { agent: 'wizard', description: 'magic', prompt: 'Do magic' } },
        { name: 'task', input: { ...reviewTasks[0], output_schema: { type: 'objekt' } } },
      ]),
      protocol.toolCalls([{ name: 'parallel_task', input: { tasks: [...valid, reviewTasks[0]] } }]),
      protocol.toolCalls([{ name: 'parallel_task', input: { tasks: valid, allow_partial_failure: true } }]),
      protocol.text('did the rest myself'),
    );
    const lead = await executor();
    const request = await delegated(lead);
    expect(requests()).toHaveLength(2); // every call of the first turn refused: the model was asked again
    const refusals = Object.values(protocol.toolResults(requests()[1]!));
    expect(refusals).toEqual([
      'error: invalid arguments: prompt: Invalid input: expected string, received undefined',
      'error: invalid arguments: arguments: Unrecognized key: "background"',
      'error: invalid arguments: tasks: parallel_task takes at most 3 tasks per call, got 4; split the work over several calls',
      'error: invalid arguments: tasks: parallel_task needs at least 2 tasks, got 1; use task for a single task',
      'error: invalid arguments: agent: agent "wizard" is not one this agent may delegate to; use one of: explore, review',
      expect.stringMatching(
        /^error: output_schema is not a valid JSON Schema: schema is invalid: data\/type must be .*; fix it or leave it out$/,
      ),
    ]);
    expect(request.calls.map((call) => call.tasks.length)).toEqual([3]);

    const outcomes = [1, 2, 3].map((n) => child(n, 'review', { output: `review ${n}` }));
    const results = [{ callId: callId(protocol, 0), outcomes }];
    const outcome = await lead.executeStep(
      spec,
      offering({ depth: 0, resume: { state: request.state, results } }),
    );
    expect(outcome).toMatchObject({ success: true, output: 'did the rest myself' });
    expect(requests()).toHaveLength(4);
    // 3 of its 4 tasks delegated, over the step's whole life: 2 more are too many.
    expect(protocol.toolResults(requests()[3]!)[callId(protocol, 0)]).toBe(
      'error: this step may delegate 4 tasks in all and has delegated 3; 2 more asked. Do the rest yourself or ask for fewer',
    );
  });

  test('tools are offered only while the step is shallower than its bound; the children inherit the tighter one', async () => {
    const lead = await executor();
    const toolsOffered = async (delegation?: DelegationAllowance) => {
      fixture.server.reply(protocol.text('did it myself'));
      const context = delegation ? offering(delegation) : stepContext();
      await expect(lead.executeStep(spec, context)).resolves.toMatchObject({ success: true });
      return protocol.toolNames(requests().at(-1)!);
    };
    expect(await toolsOffered()).toEqual(['read_file']); // the workflow offers no delegation
    expect(await toolsOffered({ depth: 2 })).toEqual(['read_file']); // the profile's maxDepth 2
    expect(await toolsOffered({ depth: 1, maxDepth: 1 })).toEqual(['read_file']); // the parent's bound
    expect(await toolsOffered({ depth: 1 })).toEqual(['read_file', 'task', 'parallel_task']);

    const one = { name: 'task', input: reviewTasks[0] };
    fixture.server.reply(protocol.toolCalls([one]));
    expect((await delegated(lead, { depth: 1 })).maxDepth).toBe(2);
    fixture.server.reply(protocol.toolCalls([one]));
    expect((await delegated(lead, { depth: 0, maxDepth: 1 })).maxDepth).toBe(1);
  });
});

describe('delegation, provider-independent', () => {
  const openai = PROTOCOLS[0]!;
  const fixture = fakeProviderPerTest(openai);
  const executor = () => fakeExecutor(openai, fixture.server, fixture.workspace, leadConfig);
  const twoTasks = { name: 'parallel_task', input: { tasks: reviewTasks.slice(0, 2) } };
  const twoOutcomes = [child(1, 'review', { output: 'ok 1' }), child(2, 'review', { output: 'ok 2' })];

  test('a state that is not this step’s, or results that do not answer its calls, fail the step with one line', async () => {
    fixture.server.reply(openai.toolCalls([twoTasks]));
    const lead = await executor();
    const { state } = await delegated(lead);
    const resuming = async (taskId: string, resume: NonNullable<DelegationAllowance['resume']>) => {
      const failure = await lead
        .executeStep({ ...spec, taskId }, offering({ depth: 0, resume }))
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(NonRetryableStepError);
      return (failure as Error).message;
    };
    const results = [{ callId: 'call_0', outcomes: twoOutcomes }];
    expect(await resuming('lead-2', { state, results })).toBe(
      "cannot resume step lead-2: the state handed back is not this step's conversation (another step's, or made with another model, system prompt or tools); rerun the step",
    );
    expect(await resuming('lead-1', { state: { kind: 'tao.script.delegation/1' }, results })).toBe(
      'cannot resume step lead-1: the state handed back is not an llm step hand-back state; rerun the step',
    );
    expect(await resuming('lead-1', { state, results: [] })).toBe(
      'cannot resume step lead-1: no result came back for its parallel_task call call_0',
    );
    expect(
      await resuming('lead-1', { state, results: [...results, { callId: 'call_9', outcomes: [] }] }),
    ).toBe('cannot resume step lead-1: results came back for calls it is not waiting on: call_9');
    expect(
      await resuming('lead-1', { state, results: [{ callId: 'call_0', outcomes: twoOutcomes.slice(1) }] }),
    ).toBe('cannot resume step lead-1: call call_0 delegated 2 tasks but 1 outcomes came back');
    expect(fixture.server.requests).toHaveLength(1);
  });

  test('a retry whose delegation never reached the workflow delegates the same calls again, counted once', async () => {
    fixture.server.reply(
      openai.toolCalls([{ name: 'parallel_task', input: { tasks: reviewTasks.slice(0, 3) } }]),
    );
    const lead = await executor();
    const first = offering({ depth: 0 });
    const lost = await lead.executeStep(spec, first);
    // The worker died before the result was recorded: the retry has only the heartbeat's state.
    const retry = await lead.executeStep(spec, offering({ depth: 0 }, { resumeState: first.states.at(-1) }));
    expect(fixture.server.requests).toHaveLength(1);
    // 3 of the step's 4 tasks: had the retry counted them twice, it would have refused the call.
    expect(retry).toMatchObject({
      delegation: { calls: (lost as { delegation: DelegationRequest }).delegation.calls },
    });
  });

  test('a retry of the resumed attempt goes on from its own saved state when that got further', async () => {
    fixture.server.reply(
      openai.toolCalls([twoTasks]),
      openai.toolCalls([{ name: 'read_file', input: { path: 'src/a.ts' } }]),
      { hang: true },
      openai.text('done'),
    );
    const lead = await executor();
    const { state } = await delegated(lead);
    const resume = { state, results: [{ callId: 'call_0', outcomes: twoOutcomes }] };
    const first = offering({ depth: 0, resume });
    const dying = lead.executeStep(spec, first).catch((error: unknown) => error);
    while (fixture.server.requests.length < 3) await new Promise((resolve) => setTimeout(resolve, 20));
    first.controller.abort(new Error('worker died'));
    await dying;

    const retry = offering({ depth: 0, resume }, { resumeState: first.states.at(-1) });
    await expect(lead.executeStep(spec, retry)).resolves.toMatchObject({ success: true, output: 'done' });
    expect(fixture.server.requests).toHaveLength(4);
    expect(fixture.server.requests[3]!.body.messages).toEqual(fixture.server.requests[2]!.body.messages);
  });

  test("a resumed attempt measures the run's tokens left against what it used since its tasks ended", async () => {
    const readA = openai.toolCalls([{ name: 'read_file', input: { path: 'src/a.ts' } }], [300, 0]);
    fixture.server.reply(openai.toolCalls([twoTasks], [1000, 0]), readA, readA, readA);
    const lead = await executor();
    const { state } = await delegated(lead);
    const resume = { state, results: [{ callId: 'call_0', outcomes: twoOutcomes }] };
    // The step had used 1000 tokens already, twice the 500 the run has left: those were charged before.
    const outcome = await lead.executeStep(spec, offering({ depth: 0, resume }, { tokensLeft: 500 }));
    expect(fixture.server.requests).toHaveLength(3);
    expect(outcome).toMatchObject({
      success: false,
      error:
        "stopped at the run's token budget: this step used 600 of the 500 tokens left since its delegated tasks ended; raise it with the setBudget update",
      usage: { inputTokens: 1600, outputTokens: 0 },
    });
  });

  test('through the activity: a delegation when the workflow offers it, then the outcome on resume; none without the offer', async () => {
    const lead = await executor();
    const { executeAgentStep } = createAgentStepActivity(lead);
    const env = () => new MockActivityEnvironment({ attempt: 1 }, { logger: new DefaultLogger('ERROR') });
    fixture.server.reply(
      openai.toolCalls([twoTasks]),
      openai.text('both fine'),
      openai.text('did it myself'),
    );

    const first: StepRun = await env().run(executeAgentStep, spec, { delegation: { depth: 0 } });
    expect(first).toMatchObject({
      attempt: 1,
      delegation: { calls: [{ callId: 'call_0', tool: 'parallel_task' }] },
    });
    if (!('delegation' in first)) throw new Error('expected a delegation');
    const resume = { state: first.delegation.state, results: [{ callId: 'call_0', outcomes: twoOutcomes }] };
    const second = await env().run(executeAgentStep, spec, { delegation: { depth: 0, resume } });
    expect(second).toMatchObject({
      attempt: 1,
      outcome: { taskId: 'lead-1', success: true, output: 'both fine' },
    });

    const plain = await env().run(executeAgentStep, spec);
    expect(plain).toMatchObject({ outcome: { success: true, output: 'did it myself' } });
    expect(openai.toolNames(fixture.server.requests[2]!)).toEqual(['read_file']);
  });
});
