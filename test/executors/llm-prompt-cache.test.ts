/**
 * Prompt caching over real HTTP: the Anthropic provider's breakpoints, checked
 * by the fake Anthropic server, which bills each request by Anthropic's cache
 * rules (see support/anthropic-prompt-cache); the step's usage and cost are
 * what that server billed.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { AnthropicPromptCache } from '../support/anthropic-prompt-cache';
import { startFakeAnthropic } from '../support/fake-anthropic';
import type { FakeServer } from '../support/fake-http';
import { PROTOCOLS, fakeExecutor, llmSpec, makeWorkspace, stepContext } from '../support/llm-harness';
import { READER_SPEC, readerConfig, readingTurns, writeSourceFiles } from '../support/reading-agent';

const anthropic = PROTOCOLS.find((p) => p.type === 'anthropic')!;
const PRICE = { inputPerMTok: 3, outputPerMTok: 15 };
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

describe('prompt caching on the Anthropic protocol', () => {
  let cache: AnthropicPromptCache;
  let server: FakeServer;
  let workspace: string;

  beforeEach(async () => {
    cache = new AnthropicPromptCache();
    server = await startFakeAnthropic(undefined, cache);
    workspace = makeWorkspace().root;
  });
  afterEach(async () => {
    await server.close();
    rmSync(dirname(workspace), { recursive: true, force: true });
  });

  const run = async (config = readerConfig(), spec = llmSpec(READER_SPEC)) => {
    const executor = await fakeExecutor(anthropic, server, workspace, {
      ...config,
      prices: { 'fake-model': PRICE },
    });
    return executor.executeStep(spec, stepContext());
  };
  const bodies = () => server.requests.map((request) => request.body);

  test('a tool loop marks system, the previous round and the latest turn; each round reads the one before from the cache', async () => {
    const files = writeSourceFiles(workspace, 3, 6_000);
    server.reply(...readingTurns(files.map((path) => [path])));
    const outcome = await run();

    expect(outcome.success).toBe(true);
    expect(bodies().map(AnthropicPromptCache.breakpoints)).toEqual([
      ['system[0]', 'messages[0].content[0]'],
      ['system[0]', 'messages[0].content[0]', 'messages[2].content[0]'],
      ['system[0]', 'messages[2].content[0]', 'messages[4].content[0]'],
      ['system[0]', 'messages[4].content[0]', 'messages[6].content[0]'],
    ]);
    const prompts = bodies().map(AnthropicPromptCache.promptTokens);
    expect(cache.bills.map((bill) => bill.cache_read_input_tokens)).toEqual([0, 0, prompts[1], prompts[2]]);
    // The first prompt is under the 1,024-token minimum: not cached; from then on every round caches it all.
    expect(prompts[0]).toBeLessThan(1024);
    expect(cache.bills.map((bill) => bill.cache_creation_input_tokens)).toEqual([
      0,
      prompts[1],
      prompts[2]! - prompts[1]!,
      prompts[3]! - prompts[2]!,
    ]);
    expect(cache.bills.map((bill) => bill.input_tokens)).toEqual([prompts[0], 0, 0, 0]);
  });

  test("the step's usage and cost are what the server billed", async () => {
    const files = writeSourceFiles(workspace, 3, 6_000);
    server.reply(...readingTurns(files.map((path) => [path])));
    const outcome = await run();

    const total = (field: keyof (typeof cache.bills)[0]) => sum(cache.bills.map((bill) => bill[field]));
    expect(outcome.usage).toMatchObject({
      inputTokens:
        total('input_tokens') + total('cache_creation_input_tokens') + total('cache_read_input_tokens'),
      cacheReadTokens: total('cache_read_input_tokens'),
      cacheWriteTokens: total('cache_creation_input_tokens'),
      outputTokens: total('output_tokens'),
    });
    expect(outcome.usage!.cacheReadTokens).toBeGreaterThan(0);
    expect(outcome.usage!.costUsd).toBeCloseTo(cache.costUsd(PRICE), 12);
    // Every prompt token at the base price: what the same requests cost before TAO set breakpoints.
    const uncached =
      (outcome.usage!.inputTokens * PRICE.inputPerMTok + total('output_tokens') * PRICE.outputPerMTok) / 1e6;
    expect(outcome.usage!.costUsd).toBeLessThan(uncached);
  });

  test('prices may name the cache rates themselves', async () => {
    const files = writeSourceFiles(workspace, 2, 6_000);
    server.reply(...readingTurns(files.map((path) => [path])));
    // A 1-hour cache's writes cost 2× the input price; some resellers price reads differently too.
    const price = { ...PRICE, cacheWritePerMTok: 6, cacheReadPerMTok: 0.5 };
    const executor = await fakeExecutor(anthropic, server, workspace, {
      ...readerConfig(),
      prices: { 'fake-model': price },
    });
    const { usage } = await executor.executeStep(llmSpec(READER_SPEC), stepContext());

    const { inputTokens, outputTokens, cacheReadTokens = 0, cacheWriteTokens = 0 } = usage!;
    expect(cacheReadTokens).toBeGreaterThan(0);
    expect(usage!.costUsd).toBeCloseTo(
      ((inputTokens - cacheReadTokens - cacheWriteTokens) * 3 +
        cacheWriteTokens * 6 +
        cacheReadTokens * 0.5 +
        outputTokens * 15) /
        1e6,
      12,
    );
  });

  test('a retry resumes the cache counts saved with the conversation; a state saved before them, with none', async () => {
    const files = writeSourceFiles(workspace, 2, 6_000);
    server.reply(...readingTurns(files.map((path) => [path])));
    const executor = await fakeExecutor(anthropic, server, workspace, readerConfig());
    const first = stepContext(1);
    const { usage } = await executor.executeStep(llmSpec(READER_SPEC), first);
    const saved = first.states.at(-1) as Record<string, unknown>;

    const resumed = await executor.executeStep(llmSpec(READER_SPEC), stepContext(2, saved));
    const fromOlder = await executor.executeStep(
      llmSpec(READER_SPEC),
      stepContext(2, withoutCacheCounts(saved)),
    );

    expect(server.requests).toHaveLength(3);
    expect(usage!.cacheReadTokens).toBeGreaterThan(0);
    expect(resumed.usage).toEqual({ ...usage, latencyMs: resumed.usage!.latencyMs });
    expect(fromOlder.usage).toEqual({ ...withoutCacheCounts(usage!), latencyMs: fromOlder.usage!.latencyMs });
  });

  test('after a round of 11 parallel calls, the breakpoint where the previous round ended still finds its cache', async () => {
    const files = writeSourceFiles(workspace, 12, 6_000);
    server.reply(...readingTurns([files.slice(0, 1), files.slice(1)]));
    await run();

    const prompts = bodies().map(AnthropicPromptCache.promptTokens);
    expect(cache.bills[2]!.cache_read_input_tokens).toBe(prompts[1]);
    // The round added 22 blocks (11 tool_use, 11 tool_result): beyond the server's 20-block
    // lookback from the latest breakpoint, so without the earlier one nothing would be read.
    const latestOnly = new AnthropicPromptCache();
    const bills = bodies().map((body, i) => {
      const latest = `messages[${body.messages.length - 1}]`;
      const kept = AnthropicPromptCache.withoutBreakpoints(
        body,
        (at) => at === 'system[0]' || at.startsWith(latest),
      );
      return latestOnly.bill(kept, cache.bills[i]!.output_tokens);
    });
    expect(bills[2]!.cache_read_input_tokens).toBe(0);
  });

  test('a second step of the same agent reads the cached tools and system prompt on its first request', async () => {
    server.reply(...readingTurns([]), ...readingTurns([]));
    await run(readerConfig(8_000));
    await run(readerConfig(8_000), llmSpec({ ...READER_SPEC, taskId: 'other', prompt: 'Something else.' }));

    const [first, second] = bodies();
    const systemPrefix = AnthropicPromptCache.promptTokens({ ...first, messages: [] });
    expect(systemPrefix).toBeGreaterThanOrEqual(1024);
    expect(cache.bills[1]).toMatchObject({
      cache_read_input_tokens: systemPrefix,
      cache_creation_input_tokens: AnthropicPromptCache.promptTokens(second) - systemPrefix,
    });
  });
});

const withoutCacheCounts = (value: object) =>
  Object.fromEntries(
    Object.entries(value).filter(([key]) => !['cacheReadTokens', 'cacheWriteTokens'].includes(key)),
  );
