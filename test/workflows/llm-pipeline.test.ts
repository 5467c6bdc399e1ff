/**
 * End to end: a pipeline workflow on the dev server whose stages run the LLM
 * executor against a fake OpenAI-compatible server over real HTTP.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { StepOutcome } from '../../src/contracts';
import type { Progress } from '../../src/workflows/lib';
import type { FakeRequest, FakeReply } from '../support/fake-http';
import {
  openAiError,
  openAiText,
  openAiToolCalls,
  openAiToolResults,
  startFakeOpenAI,
} from '../support/fake-openai';
import { FAKE_KEY, PROTOCOLS, fakeExecutor, makeWorkspace } from '../support/llm-harness';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const stages = [
  { taskId: 'explore:{{item}}', agent: 'explore', prompt: 'Read {{item}} and summarise it.' },
  {
    taskId: 'review:{{item}}',
    agent: 'review',
    prompt: 'Review {{item}} given these notes: {{prev.output}}',
    outputSchema: {
      type: 'object',
      properties: { verdict: { enum: ['approve', 'reject'] } },
      required: ['verdict'],
    },
  },
  {
    taskId: 'verify:{{item}}',
    agent: 'verify',
    prompt: 'Verify the review of {{item}}.',
    when: { field: 'prev.structured.verdict', equals: 'approve' },
  },
];

/** Plays the model: explore reads the file through a tool, review rejects TODOs, verify confirms. */
function model(request: FakeRequest): FakeReply {
  const system: string = request.body.messages[0].content;
  const prompt: string = request.body.messages[1].content;
  if (system.includes('exploration agent')) {
    const [fileContent] = Object.values(openAiToolResults(request));
    if (fileContent === undefined) {
      return openAiToolCalls([{ name: 'read_file', input: { path: /^Read (\S+)/.exec(prompt)![1] } }]);
    }
    return openAiText(`notes: ${fileContent.trim()}`);
  }
  if (system.includes('code review agent')) {
    return openAiText(JSON.stringify({ verdict: prompt.includes('TODO') ? 'reject' : 'approve' }));
  }
  return openAiText('verified');
}

test('explore → review → verify over workspace files, through Temporal, with usage in progress', async () => {
  const arrivals: { prompt: string }[] = [];
  let rateLimited = false;
  const server = await startFakeOpenAI((request) => {
    arrivals.push({ prompt: request.body.messages[1].content });
    if (!rateLimited) {
      rateLimited = true; // the very first call is told to come back in a second
      return openAiError(429, 'rate limited', { 'retry-after': '1' });
    }
    return model(request);
  });
  const { root } = makeWorkspace();
  try {
    const executor = await fakeExecutor(PROTOCOLS[0]!, server, root);
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('pipelineWorkflow', {
        taskQueue,
        workflowId: uniqueId('llm-pipeline'),
        args: [
          {
            items: ['src/a.ts', 'src/b.ts'],
            stages,
            // A short policy backoff, so only Retry-After can explain a second's wait.
            stepPolicy: { initialRetryIntervalMs: 100, maximumAttempts: 3 },
          },
        ],
      });
      const result: (StepOutcome | null)[] = await handle.result();

      expect(result[0]).toMatchObject({ taskId: 'verify:src/a.ts', success: true, output: 'verified' });
      // b.ts has a TODO: the review rejects it and the `when` gate ends its chain.
      expect(result[1]).toMatchObject({
        taskId: 'review:src/b.ts',
        success: true,
        structured: { verdict: 'reject' },
      });

      // The rate-limited call was retried by Temporal, which the failed attempt asked to wait the
      // server's Retry-After (1 s), not the policy's 100 ms: the retry's start records that failure.
      const first = arrivals[0]!;
      expect(arrivals.slice(1).some((a) => a.prompt === first.prompt)).toBe(true);
      const retried = ((await handle.fetchHistory()).events ?? [])
        .map((e) => e.activityTaskStartedEventAttributes)
        .filter((started) => started && started.attempt === 2);
      expect(retried).toHaveLength(1);
      const asked = retried[0]!.lastFailure!;
      expect(asked.message).toContain('rate limited');
      expect(asked.applicationFailureInfo).toMatchObject({ type: 'AgentStepError', nonRetryable: false });
      expect(Number(asked.applicationFailureInfo!.nextRetryDelay!.seconds)).toBe(1);
      expect(asked.applicationFailureInfo!.nextRetryDelay!.nanos ?? 0).toBe(0);

      const progress = await handle.query<Progress>('progress');
      const ran = progress.steps.filter((s) => s.status === 'succeeded');
      expect(ran.map((s) => s.taskId).sort()).toEqual([
        'explore:src/a.ts',
        'explore:src/b.ts',
        'review:src/a.ts',
        'review:src/b.ts',
        'verify:src/a.ts',
      ]);
      expect(ran.find((s) => s.attempt === 2)).toBeDefined();
      // Two rounds per explore (tool call, answer), one per review and verify; 10 in / 5 out each.
      expect(progress.usage).toEqual({ inputTokens: 70, outputTokens: 35, steps: 5 });
      expect(ran.find((s) => s.taskId === 'explore:src/a.ts')!.usage).toMatchObject({
        inputTokens: 20,
        outputTokens: 10,
        model: 'fake-model',
      });

      // The key went over HTTP to the provider, and nowhere near the workflow history.
      const history = readableText(await handle.fetchHistory());
      expect(history).toContain('verified'); // payloads were decoded, so the search means something
      expect(history).not.toContain(FAKE_KEY);
    });
  } finally {
    await server.close();
    rmSync(dirname(root), { recursive: true, force: true });
  }
});

/** Every string and every payload's bytes (as UTF-8) in a history, joined for searching. */
function readableText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (value && typeof value === 'object') return Object.values(value).map(readableText).join('\n');
  return '';
}
