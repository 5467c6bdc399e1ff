import { stepCacheKey } from '../../src/activities/step-cache';
import { type AgentStepSpecInput, AgentStepSpecSchema } from '../../src/contracts';
import { LlmExecutor } from '../../src/executors/llm/llm-executor';
import { ScriptExecutor } from '../../src/executors/script';
import { makeWorkspace } from '../support/llm-harness';

const step = (extra: Partial<AgentStepSpecInput> = {}) =>
  AgentStepSpecSchema.parse({ taskId: 't', agent: 'review', prompt: 'review a.ts', cache: {}, ...extra });

const llm = (config: object, key = 'secret-1') =>
  LlmExecutor.create(
    { model: 'gpt-a', workspace: makeWorkspace().root, ...config },
    { env: { OPENAI_API_KEY: key } },
  );

describe('step cache key', () => {
  test("an llm worker's key follows the agent's profile and model, not the provider's secret or the task id", async () => {
    const base = await llm({ agents: { review: { systemPrompt: 'Be strict.' } } });
    const key = stepCacheKey(step(), base);
    const workspace = (base.cacheIdentity(step()).config as { workspace: string }).workspace;
    const same = await llm({ workspace, agents: { review: { systemPrompt: 'Be strict.' } } }, 'secret-2');
    expect(stepCacheKey(step({ taskId: 'other' }), same)).toBe(key);

    const otherProfile = await llm({ workspace, agents: { review: { systemPrompt: 'Be kind.' } } });
    const otherModel = await llm({
      workspace,
      model: 'gpt-b',
      agents: { review: { systemPrompt: 'Be strict.' } },
    });
    const keys = [
      stepCacheKey(step(), otherProfile),
      stepCacheKey(step(), otherModel),
      stepCacheKey(step({ prompt: 'review b.ts' }), same),
      stepCacheKey(step({ cache: { key: 'commit-2' } }), same),
    ];
    expect(new Set([key, ...keys]).size).toBe(5);
    // How long and under which key the profile keeps outcomes is no part of what they are.
    const cachingProfile = await llm({
      workspace,
      agents: { review: { systemPrompt: 'Be strict.', cache: { ttlMs: 5 } } },
    });
    expect(stepCacheKey(step(), cachingProfile)).toBe(key);
    expect(cachingProfile.agentCaches()).toEqual({ review: { ttlMs: 5 } });
    expect(JSON.stringify(same.cacheIdentity(step()))).not.toContain('secret');
  });

  test('a ttl is no part of the key; another script is', () => {
    const script = new ScriptExecutor({});
    expect(stepCacheKey(step({ cache: { ttlMs: 5 } }), script)).toBe(stepCacheKey(step(), script));
    expect(stepCacheKey(step(), new ScriptExecutor({ default: { output: 'x' } }))).not.toBe(
      stepCacheKey(step(), script),
    );
  });
});
