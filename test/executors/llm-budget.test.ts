/**
 * The llm executor under a run's budget, over real HTTP to the fake OpenAI
 * server: with the run's tokens left it ends its tool loop instead of starting
 * a model call past them (a soft cap), and with prices its usage carries cost.
 */
import { PROTOCOLS, fakeExecutor, fakeProviderPerTest, llmSpec, stepContext } from '../support/llm-harness';

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
});
