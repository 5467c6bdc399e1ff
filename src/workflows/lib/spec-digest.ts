/**
 * A step's identity, as a3s's result receipts bind it: the digest of what
 * decides the step's work (agent, prompt, description, maxSteps, outputSchema,
 * parentSessionId), but not its task id, which is the checkpoint key. A
 * checkpointed outcome is only served to a spec with the same digest.
 *
 * Workflow code: pure and deterministic. The JSON is canonical (object keys
 * sorted at every depth), so the same spec gives the same digest on every
 * build and every replay.
 */
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils';
import type { AgentStepSpec } from '../../contracts';

export function specDigest(spec: AgentStepSpec): string {
  const identity = {
    agent: spec.agent,
    prompt: spec.prompt,
    description: spec.description,
    maxSteps: spec.maxSteps ?? null,
    outputSchema: spec.outputSchema ?? null,
    parentSessionId: spec.parentSessionId ?? null,
  };
  return jsonDigest(identity);
}

/** `sha256:<hex>` of a value's canonical JSON: the same value, the same digest, on any build. */
export function jsonDigest(value: unknown): string {
  return `sha256:${bytesToHex(sha256(utf8ToBytes(canonicalJson(value))))}`;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
