/**
 * What a model call consumed and what it costs. `inputTokens` counts every
 * prompt token the model read, whether the provider served it from its
 * prompt cache or not, so a run's token budget measures the context sent;
 * the cache reads and writes are parts of it, and `costUsd` prices each part
 * at its own rate, as the provider bills it.
 */
import type { StepUsage } from '../../contracts';
import type { TokenCounts } from './chat';
import type { ModelPrice, ProviderSettings } from './config';

export const NO_TOKENS: TokenCounts = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
};

export function addTokens(a: TokenCounts, b: TokenCounts): TokenCounts {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
  };
}

/**
 * Cache prices, as multiples of the input price, for a model whose `prices`
 * give none. Anthropic's are the same for every Claude model (5-minute cache,
 * the one TAO's breakpoints ask for). OpenAI's read discount differs by model,
 * so none is assumed: a budget then never counts less than is billed.
 */
const CACHE_MULTIPLIERS: Record<ProviderSettings['type'], { read: number; write: number }> = {
  anthropic: { read: 0.1, write: 1.25 },
  openai: { read: 1, write: 1 },
};

/** Dollars for `tokens` at `price`, with the protocol's cache multipliers where the price names no cache rate. */
export function costUsd(tokens: TokenCounts, price: ModelPrice, protocol: ProviderSettings['type']): number {
  const multiplier = CACHE_MULTIPLIERS[protocol];
  const readPerMTok = price.cacheReadPerMTok ?? price.inputPerMTok * multiplier.read;
  const writePerMTok = price.cacheWritePerMTok ?? price.inputPerMTok * multiplier.write;
  const uncached = Math.max(0, tokens.inputTokens - tokens.cacheReadTokens - tokens.cacheWriteTokens);
  return (
    (uncached * price.inputPerMTok +
      tokens.cacheReadTokens * readPerMTok +
      tokens.cacheWriteTokens * writePerMTok +
      tokens.outputTokens * price.outputPerMTok) /
    1e6
  );
}

/** The token part of a step's usage: cache counts only when the provider cached something, as before otherwise. */
export function usageTokens(
  tokens: TokenCounts,
): Pick<StepUsage, 'inputTokens' | 'outputTokens' | 'cacheReadTokens' | 'cacheWriteTokens'> {
  return {
    inputTokens: tokens.inputTokens,
    outputTokens: tokens.outputTokens,
    ...(tokens.cacheReadTokens > 0 ? { cacheReadTokens: tokens.cacheReadTokens } : {}),
    ...(tokens.cacheWriteTokens > 0 ? { cacheWriteTokens: tokens.cacheWriteTokens } : {}),
  };
}
