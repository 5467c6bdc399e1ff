/**
 * Failure classification for model calls. Temporal owns retries (the SDKs'
 * own are off), so each failure must say which kind it is: transient ones
 * (rate limits, 5xx, network) become {@link RetryableStepError}, honouring
 * `Retry-After`; ones a retry cannot fix (auth, bad request, context length)
 * become {@link NonRetryableStepError} with a message that says what to fix.
 */
import { NonRetryableStepError, RetryableStepError } from '../executor';

/** Where a call went, for messages that name what to fix. Never holds the key itself. */
export interface Endpoint {
  provider: string;
  baseUrl: string;
  model: string;
  /** Where the key comes from, e.g. `OPENAI_API_KEY`: named in auth errors instead of the key. */
  keySource: string;
}

/** What an error message may say about where a request went: never the key itself. */
export function endpointOf(
  settings: { name: string; keySource: string },
  baseUrl: string,
  model: string,
): Endpoint {
  return { provider: settings.name, baseUrl, model, keySource: settings.keySource };
}

type ErrorClass = abstract new (...args: never[]) => Error;

/** The error classes the official OpenAI and Anthropic SDKs share (same generator, same hierarchy). */
export interface SdkErrorClasses {
  /** An HTTP error answer: instances carry `status` and `headers`. */
  APIError: ErrorClass;
  APIUserAbortError: ErrorClass;
  APIConnectionError: ErrorClass;
}

interface HttpAnswer {
  status?: number;
  headers?: Headers;
}

/** Longest wait a `Retry-After` may impose; beyond it the step policy's own backoff is saner. */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

const CONTEXT_LENGTH =
  /context[ _-]?(length|window|size)|maximum context|prompt is too long|too many tokens|exceeds the available context/i;
const QUOTA = /insufficient_quota|exceeded your current quota|billing/i;

/** Maps whatever an SDK call threw to the error the provider should throw. Aborts pass through untouched. */
export function toStepError(
  error: unknown,
  sdk: SdkErrorClasses,
  endpoint: Endpoint,
  secret?: string,
): unknown {
  if (!(error instanceof Error) || isA(error, sdk.APIUserAbortError)) return error;
  const where = `${endpoint.provider} (${endpoint.baseUrl})`;
  const detail = redact(error.message, secret);
  if (isA(error, sdk.APIConnectionError)) {
    return new RetryableStepError(`cannot reach ${where}: ${detail}`);
  }
  const { status, headers } = isA(error, sdk.APIError) ? (error as HttpAnswer) : {};
  if (status === undefined) {
    // Not an HTTP answer (a malformed response, a bug): worth another attempt, bounded by the policy.
    return new RetryableStepError(`${where} call failed: ${detail}`);
  }
  if (status === 429) {
    if (QUOTA.test(detail)) {
      return new NonRetryableStepError(
        `${where} refused: quota exhausted (429: ${detail}); add credit or use another key (${endpoint.keySource})`,
      );
    }
    const wait = retryAfterMs(headers);
    return new RetryableStepError(
      `${where} rate limit (429)${wait !== undefined ? `, retry after ${wait} ms` : ''}: ${detail}`,
      wait,
    );
  }
  if (status === 408 || status === 409 || status >= 500) {
    return new RetryableStepError(`${where} server error (${status}): ${detail}`, retryAfterMs(headers));
  }
  if (status === 401) {
    return new NonRetryableStepError(
      `${where} rejected the API key (401): set ${endpoint.keySource} to a valid key`,
    );
  }
  if (status === 403) {
    return new NonRetryableStepError(
      `${where} denied access (403) to model "${endpoint.model}": ${detail}; check the key's permissions (${endpoint.keySource})`,
    );
  }
  if (status === 404) {
    return new NonRetryableStepError(
      `${where} found no such model or endpoint (404): ${detail}; check the model name "${endpoint.model}" and baseUrl`,
    );
  }
  if (CONTEXT_LENGTH.test(detail)) {
    return new NonRetryableStepError(
      `the conversation outgrew the context window of "${endpoint.model}" (${status}: ${detail}); lower the agent's maxSteps, narrow the prompt, or pick a model with a longer context`,
    );
  }
  return new NonRetryableStepError(
    `${where} rejected the request (${status}): ${detail}; check this agent's model, temperature, maxTokens and the step's outputSchema`,
  );
}

/** `retry-after-ms` (OpenAI's), else `retry-after` in seconds or as an HTTP date. */
function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  const millis = Number(headers?.get('retry-after-ms') ?? NaN);
  const value = headers?.get('retry-after')?.trim();
  let wait: number | undefined;
  if (Number.isFinite(millis) && millis >= 0) wait = millis;
  else if (value && /^\d+(\.\d+)?$/.test(value)) wait = Number(value) * 1000;
  else if (value && !Number.isNaN(Date.parse(value))) wait = Math.max(0, Date.parse(value) - now);
  return wait === undefined ? undefined : Math.min(Math.round(wait), MAX_RETRY_AFTER_MS);
}

/** Servers sometimes echo (part of) the key in error text; it must never reach a message, log or history. */
function redact(text: string, secret: string | undefined): string {
  return secret && secret.length >= 4 ? text.split(secret).join('[redacted]') : text;
}

/** `instanceof` without narrowing: the SDK classes are structurally plain Errors, so narrowing would leave `never`. */
function isA(value: Error, cls: ErrorClass): boolean {
  return value instanceof cls;
}

/** A stream that stopped before its end (the connection dropped): retryable, the next attempt asks again. */
export function incompleteAnswer(settings: { name: string }, baseUrl: string): RetryableStepError {
  return new RetryableStepError(
    `${settings.name} (${baseUrl}) ended the stream before the answer was complete`,
  );
}
