/**
 * Anthropic's prompt cache as its documentation describes it, for the fake
 * server to bill requests by:
 * - a request's prompt is a sequence of blocks in the order tools, system,
 *   messages; a block with `cache_control` is a breakpoint, at most 4 a request;
 * - a breakpoint caches the prefix up to and including its block (5 minutes,
 *   refreshed by every hit), unless that prefix is shorter than the model's
 *   minimum (1,024 tokens for Sonnet and Opus);
 * - a request reads the longest cached prefix it matches exactly, looked for at
 *   each breakpoint and the 20 blocks before it;
 * - changing `tool_choice` invalidates the cached messages, not tools or system;
 * - usage: `cache_read_input_tokens` read, `cache_creation_input_tokens` written
 *   (from the read prefix to the last breakpoint cached), `input_tokens` the
 *   rest; a write costs 1.25× the base input price, a read 0.1×.
 * Tokens are estimated as a block's JSON length / 4; the real counts differ,
 * the rules do not.
 */
import { createHash } from 'node:crypto';

const MAX_BREAKPOINTS = 4;
const LOOKBACK_BLOCKS = 20;
const TTL_MS = 5 * 60_000;
export const CACHE_WRITE_MULTIPLIER = 1.25;
export const CACHE_READ_MULTIPLIER = 0.1;

export interface AnthropicBill {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  output_tokens: number;
}

interface PromptBlock {
  /** Where the block is in the request, e.g. `messages[2].content[0]`. */
  at: string;
  tokens: number;
  /** Of the prompt up to and including this block. */
  prefixHash: string;
  breakpoint: boolean;
}

/** A request the real API refuses; its message is Anthropic's. */
export class InvalidRequest extends Error {}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- request bodies are read as sent
type Body = any;

export class AnthropicPromptCache {
  /** Every request's usage, in order. */
  readonly bills: AnthropicBill[] = [];
  private readonly entries = new Map<string, number>();

  /** `minTokens`: the model's minimum cacheable prompt (Haiku-class models: 2,048). */
  constructor(private readonly minTokens = 1024) {}

  /** The blocks that carry `cache_control`, by where they are in the request. */
  static breakpoints(body: Body): string[] {
    return promptBlocks(body)
      .filter((block) => block.breakpoint)
      .map((block) => block.at);
  }

  /** Every prompt token of `body`, as this model counts them. */
  static promptTokens(body: Body): number {
    return promptBlocks(body).reduce((sum, block) => sum + block.tokens, 0);
  }

  /** The request with its breakpoints taken out, but for those at the places `keep` names. */
  static withoutBreakpoints(body: Body, keep: (at: string) => boolean = () => false): Body {
    const strip = (at: string, items: Body[]) =>
      items.map(({ cache_control, ...block }, i) =>
        cache_control != null && keep(`${at}[${i}]`) ? { ...block, cache_control } : block,
      );
    return {
      ...body,
      ...(body.tools ? { tools: strip('tools', body.tools) } : {}),
      ...(Array.isArray(body.system) ? { system: strip('system', body.system) } : {}),
      messages: body.messages.map((message: { content: string | Body[] }, m: number) =>
        typeof message.content === 'string'
          ? message
          : { ...message, content: strip(`messages[${m}].content`, message.content) },
      ),
    };
  }

  /** Throws {@link InvalidRequest} for breakpoints the API refuses. */
  static check(body: Body): void {
    const count = AnthropicPromptCache.breakpoints(body).length;
    if (count > MAX_BREAKPOINTS) {
      throw new InvalidRequest(
        `A maximum of ${MAX_BREAKPOINTS} blocks with cache_control may be provided. Found ${count}.`,
      );
    }
  }

  /** Checks a request as the API does, then bills its prompt against the cache and records the bill. */
  bill(body: Body, outputTokens: number): AnthropicBill {
    AnthropicPromptCache.check(body);
    const blocks = promptBlocks(body);
    const breakpoints = blocks.flatMap((block, i) => (block.breakpoint ? [i] : []));
    const now = Date.now();
    const prefixTokens: number[] = [];
    blocks.forEach((block, i) => prefixTokens.push((prefixTokens[i - 1] ?? 0) + block.tokens));
    const live = (i: number) => (this.entries.get(blocks[i]!.prefixHash) ?? 0) > now;
    let hit = -1;
    for (const b of breakpoints) {
      for (let i = b; i >= Math.max(0, b - LOOKBACK_BLOCKS); i--) {
        if (live(i)) {
          hit = Math.max(hit, i);
          break;
        }
      }
    }
    const written = breakpoints.filter((b) => b > hit && prefixTokens[b]! >= this.minTokens);
    for (const i of [...(hit >= 0 ? [hit] : []), ...written])
      this.entries.set(blocks[i]!.prefixHash, now + TTL_MS);
    const read = hit >= 0 ? prefixTokens[hit]! : 0;
    const lastWritten = written[written.length - 1];
    const write = lastWritten === undefined ? 0 : prefixTokens[lastWritten]! - read;
    const total = prefixTokens[prefixTokens.length - 1] ?? 0;
    const bill = {
      input_tokens: total - read - write,
      cache_creation_input_tokens: write,
      cache_read_input_tokens: read,
      output_tokens: outputTokens,
    };
    this.bills.push(bill);
    return bill;
  }

  /** What the bills so far cost at a model's base prices, with Anthropic's cache multipliers. */
  costUsd(price: { inputPerMTok: number; outputPerMTok: number }): number {
    return this.bills.reduce(
      (sum, bill) =>
        sum +
        (price.inputPerMTok *
          (bill.input_tokens +
            CACHE_WRITE_MULTIPLIER * bill.cache_creation_input_tokens +
            CACHE_READ_MULTIPLIER * bill.cache_read_input_tokens) +
          price.outputPerMTok * bill.output_tokens) /
          1e6,
      0,
    );
  }
}

/** The request's prompt as blocks, in cache order, each with the hash of the prompt up to it. */
function promptBlocks(body: Body): PromptBlock[] {
  const blocks: PromptBlock[] = [];
  // A cache belongs to one model; cache_control itself is no part of the content.
  let hash = digest('', body.model);
  const add = (at: string, content: unknown, breakpoint: boolean) => {
    const text = JSON.stringify(content);
    hash = digest(hash, text);
    blocks.push({ at, tokens: Math.ceil(text.length / 4), prefixHash: hash, breakpoint });
  };
  const each = (at: string, items: Body[]) =>
    items.forEach(({ cache_control, ...content }, i) => add(`${at}[${i}]`, content, cache_control != null));
  each('tools', body.tools ?? []);
  if (typeof body.system === 'string') add('system', body.system, false);
  else each('system', body.system ?? []);
  hash = digest(hash, JSON.stringify({ tool_choice: body.tool_choice }));
  (body.messages as { role: string; content: string | Body[] }[]).forEach((message, m) => {
    hash = digest(hash, message.role);
    const content =
      typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : message.content;
    each(`messages[${m}].content`, content);
  });
  return blocks;
}

const digest = (before: string, text: string) =>
  createHash('sha256').update(before).update(text).digest('hex');
