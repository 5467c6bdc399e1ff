/** Step usage in checkpoints: written in a3s snake_case, read back, and optional for old files. */
import { decodeA3sCheckpoint, encodeA3sCheckpoint } from '../../src/stores/a3s-codec';
import type { StepUsage, WorkflowCheckpoint } from '../../src/contracts';

const outcome = { taskId: 'a', agent: 'explore', sessionId: 's', output: 'done', success: true };
const usage = { inputTokens: 120, outputTokens: 30, model: 'gpt-test', latencyMs: 900 };
const checkpoint = (withUsage: boolean | StepUsage): WorkflowCheckpoint => ({
  schemaVersion: 1,
  workflowId: 'wf',
  checkpointMs: 1,
  steps: [
    {
      taskId: 'a',
      outcome: {
        ...outcome,
        ...(withUsage ? { usage: withUsage === true ? usage : withUsage } : {}),
      },
    },
  ],
});

test('usage round-trips through the a3s format as snake_case', () => {
  const text = encodeA3sCheckpoint(checkpoint(true));
  expect(JSON.parse(text).steps[0].outcome.usage).toEqual({
    input_tokens: 120,
    output_tokens: 30,
    model: 'gpt-test',
    latency_ms: 900,
  });
  expect(decodeA3sCheckpoint(text)).toEqual(checkpoint(true));
});

test('prompt-cache counts and cost round-trip too', () => {
  const cached = checkpoint({ ...usage, cacheReadTokens: 80, cacheWriteTokens: 10, costUsd: 0.0004 });
  const text = encodeA3sCheckpoint(cached);
  expect(JSON.parse(text).steps[0].outcome.usage).toMatchObject({
    input_tokens: 120,
    cache_read_tokens: 80,
    cache_write_tokens: 10,
    cost_usd: 0.0004,
  });
  expect(decodeA3sCheckpoint(text)).toEqual(cached);
});

test('outcomes without usage are written and read exactly as before', () => {
  const text = encodeA3sCheckpoint(checkpoint(false));
  expect(JSON.parse(text).steps[0].outcome).not.toHaveProperty('usage');
  expect(decodeA3sCheckpoint(text)).toEqual(checkpoint(false));
});
