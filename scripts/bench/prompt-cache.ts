/**
 * What a tool loop's prompts are billed on Anthropic, with TAO's prompt-cache
 * breakpoints and without: one llm step, run in this process (no Temporal),
 * whose model reads a file on each turn but the last, against the fake
 * Anthropic server billing by Anthropic's cache rules. "Without" is the same
 * requests with their breakpoints taken out, billed by a fresh cache: what TAO
 * sent before it set any.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LlmExecutor } from '../../src/executors/llm/llm-executor';
import {
  AnthropicPromptCache,
  type AnthropicBill,
  CACHE_READ_MULTIPLIER,
  CACHE_WRITE_MULTIPLIER,
} from '../../test/support/anthropic-prompt-cache';
import { startFakeAnthropic } from '../../test/support/fake-anthropic';
import { stepContext } from '../../test/support/llm-harness';
import { READER_SPEC, readerConfig, readingTurns, writeSourceFiles } from '../../test/support/reading-agent';

/** Claude Sonnet's base prices, for the dollar figures. */
const PRICE = { inputPerMTok: 3, outputPerMTok: 15 };

interface Billed {
  /** Input tokens by how they were billed, summed over the step's requests. */
  uncached: number;
  cacheWrite: number;
  cacheRead: number;
  /** At the base input price: uncached + 1.25 × writes + 0.1 × reads. */
  baseEquivalent: number;
  costUsd: number;
}

export interface PromptCacheBills {
  turns: number;
  fileChars: number;
  withCache: Billed;
  withoutCache: Billed;
  /** The step's own usage.costUsd: it should equal withCache.costUsd. */
  stepCostUsd: number;
}

export async function promptCacheBills(turns: number, fileChars: number): Promise<PromptCacheBills> {
  const workspace = mkdtempSync(join(tmpdir(), 'tao-bench-cache-'));
  const cache = new AnthropicPromptCache();
  const server = await startFakeAnthropic(undefined, cache);
  try {
    const files = writeSourceFiles(workspace, turns - 1, fileChars);
    server.reply(...readingTurns(files.map((path) => [path])));
    const executor = await LlmExecutor.create(
      {
        ...readerConfig(),
        provider: 'fake',
        model: 'claude-sonnet',
        workspace,
        providers: { fake: { type: 'anthropic', baseUrl: server.url, apiKey: 'none' } },
        prices: { 'claude-sonnet': PRICE },
      },
      { env: {} },
    );
    const outcome = await executor.executeStep({ ...READER_SPEC, description: '' }, stepContext());
    if (!outcome.success || server.requests.length !== turns)
      throw new Error(
        `the reading agent did not finish in ${turns} turns: ${outcome.error ?? outcome.output}`,
      );
    const fresh = new AnthropicPromptCache();
    const withoutCache = server.requests.map((request, i) =>
      fresh.bill(AnthropicPromptCache.withoutBreakpoints(request.body), cache.bills[i]!.output_tokens),
    );
    return {
      turns,
      fileChars,
      withCache: billed(cache.bills, cache.costUsd(PRICE)),
      withoutCache: billed(withoutCache, fresh.costUsd(PRICE)),
      stepCostUsd: outcome.usage!.costUsd!,
    };
  } finally {
    await server.close();
    rmSync(workspace, { recursive: true, force: true });
  }
}

function billed(bills: AnthropicBill[], costUsd: number): Billed {
  const total = (field: keyof AnthropicBill) => bills.reduce((sum, bill) => sum + bill[field], 0);
  const [uncached, cacheWrite, cacheRead] = [
    total('input_tokens'),
    total('cache_creation_input_tokens'),
    total('cache_read_input_tokens'),
  ];
  return {
    uncached,
    cacheWrite,
    cacheRead,
    baseEquivalent: uncached + CACHE_WRITE_MULTIPLIER * cacheWrite + CACHE_READ_MULTIPLIER * cacheRead,
    costUsd,
  };
}
