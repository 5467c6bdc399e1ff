/**
 * The llm executor under a run's budget, over real HTTP to the fake providers:
 * with the run's tokens left it ends its tool loop instead of starting a model
 * call past them (a soft cap); with prices its usage carries what the provider
 * bills, cached prompt tokens at their own rates, and a run's maxCostUsd
 * counts that.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { StepOutcome } from '../../src/contracts';
import type { ModelPrice } from '../../src/executors/llm/config';
import type { Progress } from '../../src/workflows/lib';
import { AnthropicPromptCache } from '../support/anthropic-prompt-cache';
import { startFakeAnthropic } from '../support/fake-anthropic';
import type { FakeServer } from '../support/fake-http';
import { openAiText, openAiToolCalls } from '../support/fake-openai';
import {
  PROTOCOLS,
  fakeExecutor,
  fakeProviderPerTest,
  llmSpec,
  makeWorkspace,
  stepContext,
} from '../support/llm-harness';
import { readerConfig, readingTurns, writeSourceFiles } from '../support/reading-agent';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';
import { turnOf } from '../support/ticking-agent';

afterAll(closeDevClient);

const openai = PROTOCOLS[0]!;
const lister = {
  agents: { lister: { systemPrompt: 'You list.', tools: ['list_directory' as const], maxSteps: 10 } },
};
const spec = llmSpec({ agent: 'lister', prompt: 'list, again and again' });
const listAgain = openai.toolCalls([{ name: 'list_directory', input: { path: '.' } }], [300, 100]);

describe('the llm executor under a budget', () => {
  const fixture = fakeProviderPerTest(openai);

  test('it stops before a model call once the step has used the tokens the run had left', async () => {
    fixture.server.reply(listAgain, listAgain, listAgain);
    const executor = await fakeExecutor(openai, fixture.server, fixture.workspace, lister);
    const outcome = await executor.executeStep(spec, { ...stepContext(), tokensLeft: 700 });
    // 400 tokens after the first call, 800 after the second: no third call.
    expect(fixture.server.requests).toHaveLength(2);
    expect(outcome).toMatchObject({
      success: false,
      error:
        "stopped at the run's token budget: this step used 800 of the 700 tokens left; raise it with the setBudget update",
      usage: { inputTokens: 600, outputTokens: 200 },
    });
  });

  test('without a budget the same agent goes on; with prices its usage carries its cost', async () => {
    fixture.server.reply(listAgain, listAgain, openai.text('done', [300, 100]));
    const executor = await fakeExecutor(openai, fixture.server, fixture.workspace, {
      ...lister,
      prices: { 'fake-model': { inputPerMTok: 3, outputPerMTok: 15 } },
    });
    const outcome = await executor.executeStep(spec, stepContext());
    expect(fixture.server.requests).toHaveLength(3);
    expect(outcome.success).toBe(true);
    // 900 input tokens at $3/M and 300 output tokens at $15/M.
    expect(outcome.usage!.costUsd).toBeCloseTo(0.0072, 10);
  });

  test("OpenAI's cached prompt tokens are counted apart and priced at the model's cache-read rate", async () => {
    const turns = () =>
      fixture.server.reply(
        openAiToolCalls([{ name: 'list_directory', input: { path: '.' } }], [2_000, 100, 1_536]),
        openAiText('done', [2_400, 50, 1_920]),
      );
    const run = async (price: ModelPrice) => {
      const executor = await fakeExecutor(openai, fixture.server, fixture.workspace, {
        ...lister,
        prices: { 'fake-model': price },
      });
      return (await executor.executeStep(spec, stepContext())).usage!;
    };
    turns();
    const discounted = await run({ inputPerMTok: 2, cacheReadPerMTok: 0.5, outputPerMTok: 8 });
    expect(discounted).toMatchObject({ inputTokens: 4_400, cacheReadTokens: 3_456, outputTokens: 150 });
    expect(discounted).not.toHaveProperty('cacheWriteTokens');
    // 944 uncached input tokens at $2/M, 3,456 cached at $0.50/M, 150 output at $8/M.
    expect(discounted.costUsd).toBeCloseTo(0.004816, 10);

    // OpenAI's discount differs by model: without a cache-read price, a cached token costs full price.
    turns();
    const listed = await run({ inputPerMTok: 2, outputPerMTok: 8 });
    expect(listed.costUsd).toBeCloseTo(0.01, 10);
  });
});

/** The agents' long system prompt is cached by the first step and read by the others. */
describe("a run's maxCostUsd", () => {
  const anthropic = PROTOCOLS[1]!;
  const price = { inputPerMTok: 3, outputPerMTok: 15 };
  let cache: AnthropicPromptCache;
  let server: FakeServer;
  let workspace: string;

  beforeEach(async () => {
    cache = new AnthropicPromptCache();
    workspace = makeWorkspace().root;
    // Every step reads one file, then answers.
    const [read, answer] = readingTurns([writeSourceFiles(workspace, 1, 6_000)]);
    server = await startFakeAnthropic((request) => (turnOf(request) === 1 ? read! : answer!), cache);
  });
  afterEach(async () => {
    await server.close();
    rmSync(dirname(workspace), { recursive: true, force: true });
  });

  test('counts what the provider billed, cache reads and writes at their rates', async () => {
    // Between two steps' billed cost and three's, and under two steps' cost at the input price.
    const MAX_COST_USD = 0.03;
    const executor = await fakeExecutor(anthropic, server, workspace, {
      ...readerConfig(8_000),
      prices: { 'fake-model': price },
    });
    const specs = ['a', 'b', 'c', 'd'].map((taskId) => ({
      taskId,
      agent: 'reader',
      prompt: `Read for ${taskId}.`,
    }));
    await withWorker({ executor }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start('parallelWorkflow', {
        taskQueue,
        workflowId: uniqueId('cost-budget'),
        args: [{ specs, concurrency: 1, budget: { maxCostUsd: MAX_COST_USD } }],
      });
      const outcomes = (await handle.result()) as StepOutcome[];
      const { spent } = (await handle.query<Progress>('progress')).budget!;
      expect(spent.costUsd).toBeCloseTo(cache.costUsd(price), 12);
      expect(outcomes.map((o) => [o.taskId, o.success, o.error])).toEqual([
        ['a', true, undefined],
        ['b', true, undefined],
        ['c', true, undefined],
        ['d', false, `budget exhausted (cost $${spent.costUsd.toFixed(4)}/$${MAX_COST_USD})`],
      ]);
      // Every prompt token at the input price, as before TAO counted cached ones apart: c would not have started.
      const listPrice = ({ usage }: StepOutcome) =>
        (usage!.inputTokens * price.inputPerMTok + usage!.outputTokens * price.outputPerMTok) / 1e6;
      expect(listPrice(outcomes[0]!) + listPrice(outcomes[1]!)).toBeGreaterThanOrEqual(MAX_COST_USD);
    });
  });
});
