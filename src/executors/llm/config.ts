/**
 * The LLM executor's settings: an optional YAML/JSON file (`llm:<file>`)
 * over environment defaults. Everything is resolved and checked when the
 * worker starts, so a missing key or model fails the worker with one line
 * instead of failing every step.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { InputError } from '../../config/data-file';
import {
  McpServerConfigSchema,
  McpServerNameSchema,
  type McpServerSettings,
  resolveMcpServers,
} from './mcp/config';
import { unofferedToolProblem } from './approval/rules';
import { type AgentProfile, type ProfileOverride, ProfileOverrideSchema, mergeProfiles } from './profiles';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

export const ProviderConfigSchema = z
  .object({
    /** Wire protocol: `openai` is any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, vLLM, LM Studio, llama.cpp). */
    type: z.enum(['openai', 'anthropic']),
    baseUrl: z.string().url().optional(),
    /** The key itself; prefer `apiKeyEnv` so the file holds no secret. */
    apiKey: z.string().min(1).optional(),
    apiKeyEnv: envName.optional(),
  })
  .strict();

const perMTok = z.number().min(0);
const ModelPriceSchema = z
  .object({
    inputPerMTok: perMTok,
    outputPerMTok: perMTok,
    /** Prompt-cache reads and writes; without them, the protocol's usual multiples of inputPerMTok (see ./usage). */
    cacheReadPerMTok: perMTok.optional(),
    cacheWritePerMTok: perMTok.optional(),
  })
  .strict();
export type ModelPrice = z.infer<typeof ModelPriceSchema>;

export const LlmConfigFileSchema = z
  .object({
    /** Provider and model for profiles that name none (env: TAO_LLM_PROVIDER, TAO_LLM_MODEL). */
    provider: z.string().min(1).optional(),
    model: z.string().min(1).optional(),
    /** Root of the directory tools may touch; default: TAO_LLM_WORKSPACE, else the worker's directory. */
    workspace: z.string().min(1).optional(),
    concurrency: z.number().int().min(0).optional(),
    /** Wall-clock limit of one step attempt (all its rounds); a step that exceeds it is retried. */
    timeoutMs: z.number().int().positive().optional(),
    providers: z.record(ProviderConfigSchema).optional(),
    /** Dollars per million tokens, by model: a step's usage then carries its cost (for budgets' maxCostUsd). */
    prices: z.record(ModelPriceSchema).optional(),
    /** MCP servers by name; an agent lists the ones it may use (see ./mcp). */
    mcpServers: z.record(McpServerNameSchema, McpServerConfigSchema).optional(),
    agents: z.record(ProfileOverrideSchema).optional(),
  })
  .strict();
export type LlmConfigFile = z.infer<typeof LlmConfigFileSchema>;

export interface ProviderSettings {
  name: string;
  type: 'openai' | 'anthropic';
  /** Undefined means the vendor's public endpoint. */
  baseUrl?: string;
  apiKey?: string;
  /** Where the key comes from, for error messages: never the key itself. */
  keySource: string;
}

/** A profile's `delegation` with its defaults filled in. */
export interface DelegationSettings {
  agents: string[];
  maxTasksPerCall: number;
  maxTasksPerStep: number;
  maxDepth: number;
}

export type ResolvedProfile = Omit<AgentProfile, 'delegation'> & {
  provider: string;
  model: string;
  delegation?: DelegationSettings;
};

export interface LlmSettings {
  workspace: string;
  concurrency: number;
  timeoutMs: number;
  profiles: Record<string, ResolvedProfile>;
  providers: Record<string, ProviderSettings>;
  /** The servers some agent uses; others are not started, and need no variables set. */
  mcpServers: Record<string, McpServerSettings>;
  prices: Record<string, ModelPrice>;
}

/** Every secret the settings hold (providers' keys, MCP servers' secrets): what content leaving the worker is scrubbed of. */
export function settingsSecrets(settings: LlmSettings): string[] {
  return [
    ...Object.values(settings.providers).flatMap((provider) => provider.apiKey ?? []),
    ...Object.values(settings.mcpServers).flatMap((server) => server.secrets),
  ];
}

/** The vendors' own endpoints, keyed and located by their SDKs' usual variables. */
const BUILT_IN_PROVIDERS = {
  openai: { type: 'openai', apiKeyEnv: 'OPENAI_API_KEY', baseUrlEnv: 'OPENAI_BASE_URL' },
  anthropic: { type: 'anthropic', apiKeyEnv: 'ANTHROPIC_API_KEY', baseUrlEnv: 'ANTHROPIC_BASE_URL' },
} as const;

export const DEFAULT_LLM_CONCURRENCY = 4;
const DEFAULT_TIMEOUT_MS = 10 * 60_000;

export function resolveLlmSettings(
  file: LlmConfigFile,
  source = 'LLM config',
  env: NodeJS.ProcessEnv = process.env,
): LlmSettings {
  const providers = resolveProviders(file, source, env);
  const defaultProvider = file.provider ?? env.TAO_LLM_PROVIDER ?? 'openai';
  const defaultModel = file.model ?? env.TAO_LLM_MODEL;
  const profiles: Record<string, ResolvedProfile> = {};
  for (const [agent, profile] of Object.entries(mergeProfiles(file.agents ?? {}, source))) {
    const provider = profile.provider ?? defaultProvider;
    const model = profile.model ?? defaultModel;
    if (!providers[provider]) {
      throw new InputError(
        `${source}: agent "${agent}" uses provider "${provider}", which is not configured; known: ${Object.keys(providers).join(', ')}`,
      );
    }
    if (!model) {
      throw new InputError(
        `${source}: agent "${agent}" has no model; set model: in the config file (or in the agent), or TAO_LLM_MODEL`,
      );
    }
    for (const server of profile.mcpServers ?? []) {
      if (!file.mcpServers?.[server]) {
        throw new InputError(
          `${source}: agent "${agent}" lists MCP server "${server}", which is not under mcpServers; known: ${Object.keys(file.mcpServers ?? {}).join(', ') || 'none'}`,
        );
      }
    }
    const unoffered = profile.toolApproval
      ? unofferedToolProblem(profile.toolApproval, profile.tools, profile.mcpServers ?? [])
      : undefined;
    if (unoffered !== undefined) throw new InputError(`${source}: agent "${agent}" ${unoffered}`);
    const { delegation, ...rest } = profile;
    profiles[agent] = {
      ...rest,
      provider,
      model,
      ...(delegation ? { delegation: withDefaults(delegation) } : {}),
    };
  }
  for (const [agent, profile] of Object.entries(profiles)) {
    const unknown = profile.delegation?.agents.find((name) => !profiles[name]);
    if (unknown !== undefined) {
      throw new InputError(
        `${source}: agent "${agent}" delegates to "${unknown}", which is not an agent; known: ${Object.keys(profiles).sort().join(', ')}`,
      );
    }
  }
  // Only providers some agent uses need a key: an unused vendor must not stop the worker.
  for (const name of new Set(Object.values(profiles).map((p) => p.provider))) {
    const provider = providers[name]!;
    if (provider.apiKey === undefined && provider.baseUrl === undefined) {
      throw new InputError(
        `${source}: provider "${name}" has no API key; set ${provider.keySource}, or give the provider a baseUrl if it is a local server that needs none`,
      );
    }
  }
  const workspace = resolve(file.workspace ?? env.TAO_LLM_WORKSPACE ?? '.');
  const usedServers = new Set(Object.values(profiles).flatMap((p) => p.mcpServers ?? []));
  const mcpServers = Object.fromEntries(
    Object.entries(file.mcpServers ?? {}).filter(([name]) => usedServers.has(name)),
  );
  return {
    workspace,
    concurrency: file.concurrency ?? DEFAULT_LLM_CONCURRENCY,
    timeoutMs: file.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    profiles,
    providers,
    mcpServers: resolveMcpServers(mcpServers, { source, workspace, env }),
    prices: file.prices ?? {},
  };
}

function withDefaults(given: NonNullable<ProfileOverride['delegation']>): DelegationSettings {
  return {
    agents: [...new Set(given.agents)],
    maxTasksPerCall: given.maxTasksPerCall ?? 8,
    maxTasksPerStep: given.maxTasksPerStep ?? 32,
    maxDepth: given.maxDepth ?? 2,
  };
}

function resolveProviders(
  file: LlmConfigFile,
  source: string,
  env: NodeJS.ProcessEnv,
): Record<string, ProviderSettings> {
  const configured = { ...file.providers };
  const providers: Record<string, ProviderSettings> = {};
  for (const name of new Set([...Object.keys(BUILT_IN_PROVIDERS), ...Object.keys(configured)])) {
    const builtIn = BUILT_IN_PROVIDERS[name as keyof typeof BUILT_IN_PROVIDERS];
    const given = configured[name];
    if (given?.apiKey !== undefined && given.apiKeyEnv !== undefined) {
      throw new InputError(`${source}: invalid providers.${name}: give apiKey or apiKeyEnv, not both`);
    }
    const keyEnv = given?.apiKeyEnv ?? builtIn?.apiKeyEnv;
    const baseUrl = given?.baseUrl ?? (builtIn ? env[builtIn.baseUrlEnv] || undefined : undefined);
    const apiKey = given?.apiKey ?? (keyEnv ? env[keyEnv] || undefined : undefined);
    providers[name] = {
      name,
      type: given?.type ?? builtIn!.type,
      ...(baseUrl ? { baseUrl } : {}),
      ...(apiKey ? { apiKey } : {}),
      keySource:
        given?.apiKey !== undefined
          ? `providers.${name}.apiKey in ${source}`
          : (keyEnv ?? `providers.${name}.apiKeyEnv in ${source}`),
    };
  }
  return providers;
}
