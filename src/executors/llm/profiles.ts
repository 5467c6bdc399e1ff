/**
 * Agent profiles: what a step's `agent` name means to the LLM executor
 * (system prompt, model, temperature, tools, default round limit). Five are
 * built in; a config file adds new ones or overrides fields of built-in ones.
 */
import { z } from 'zod';
import { InputError } from '../../config/data-file';
import { QuestionTimeoutSchema, StepCacheSchema } from '../../contracts';
import { ToolApprovalSchema } from './approval/rules';
import { READ_ONLY_TOOLS, TOOL_NAMES, type ToolName } from './tool-names';

/**
 * Whom an agent may hand tasks to (`task` / `parallel_task`, see ./delegation)
 * and how many. Absent: it does not delegate, as no built-in does.
 */
export const DelegationConfigSchema = z
  .object({
    /** Agent names (of this config) it may delegate to; itself included if listed. */
    agents: z.array(z.string().min(1)).min(1),
    /** Tasks in one `parallel_task` call (default 8). */
    maxTasksPerCall: z.number().int().min(1).max(32).optional(),
    /** Tasks over the step's whole life, every call and every resume counted (default 32). */
    maxTasksPerStep: z.number().int().min(1).optional(),
    /** Levels of delegation below a top-level step (default 2); a child's own bound never exceeds its parent's. */
    maxDepth: z.number().int().min(1).max(8).optional(),
  })
  .strict();

/**
 * The `ask_user` tool (./ask-user): `true`, or how long a question waits for
 * an answer (`timeoutMs`) and what a wait that timed out gives: `fail` (the
 * default) or `{ answer }`, a stated default the agent reads.
 */
export const AskUserSchema = z.union([
  z.literal(true),
  z
    .object({
      timeoutMs: z.number().int().positive().optional(),
      onTimeout: QuestionTimeoutSchema.optional(),
    })
    .strict(),
]);
export type AskUserSettings = z.infer<typeof AskUserSchema>;

/** Every field a profile has; in a config file each is optional (a built-in supplies the rest). */
export const ProfileOverrideSchema = z
  .object({
    systemPrompt: z.string().min(1),
    /** One line saying what the agent is for, shown to agents that may delegate to it; default: the system prompt's first sentence. */
    description: z.string().min(1),
    /** A provider name from the config's `providers` (or built-in `openai` / `anthropic`); default: the config's. */
    provider: z.string().min(1),
    model: z.string().min(1),
    /** Unset means the provider's default; some reasoning models reject any other value. */
    temperature: z.number().min(0).max(2),
    tools: z.array(z.enum(TOOL_NAMES)),
    /** Names under the config's `mcpServers` whose tools join `tools`, as `<server>__<tool>`. */
    mcpServers: z.array(z.string().min(1)),
    /** Tool/model rounds when the step sets no `maxSteps`. */
    maxSteps: z.number().int().min(1),
    /** Output tokens per model call (Anthropic requires a value; default 4096 there). */
    maxTokens: z.number().int().min(1),
    delegation: DelegationConfigSchema,
    /** Offers the `ask_user` tool: the agent may ask the person supervising the run and wait for the answer. */
    askUser: AskUserSchema,
    /** Which calls of its tools may run: ordered allow/deny rules and a default (see ./approval). */
    toolApproval: ToolApprovalSchema,
    /** Every step of this agent uses the step cache across runs, as if its spec said `cache:` (a spec's own wins). */
    cache: StepCacheSchema,
  })
  .partial()
  .strict();
export type ProfileOverride = z.infer<typeof ProfileOverrideSchema>;

export type AgentProfile = Omit<ProfileOverride, 'systemPrompt' | 'description' | 'tools' | 'maxSteps'> & {
  systemPrompt: string;
  description: string;
  tools: readonly ToolName[];
  maxSteps: number;
};

const WORKSPACE_NOTE =
  'You work inside a workspace directory; every path you give a tool is relative to its root.';

/** Read-only, provider-neutral defaults; users pick models and may grant write/shell tools. */
export const BUILT_IN_PROFILES: Readonly<Record<string, AgentProfile>> = {
  explore: {
    description: 'Reads and searches the workspace and reports what it found, quoting paths.',
    systemPrompt: `You are an exploration agent. ${WORKSPACE_NOTE} Read and search the files the task concerns, then report concisely what you found: structure, responsibilities, notable details and open questions. Quote paths. Do not speculate beyond what you read.`,
    tools: READ_ONLY_TOOLS,
    maxSteps: 12,
  },
  review: {
    description: 'Reviews code for concrete defects, most severe first, and says whether it approves.',
    systemPrompt: `You are a code review agent. ${WORKSPACE_NOTE} Read the code under review before judging it. Report concrete problems (correctness, security, error handling, tests, clarity) with file and line, most severe first, and say clearly whether you approve.`,
    tools: READ_ONLY_TOOLS,
    maxSteps: 10,
  },
  plan: {
    description:
      'Studies the relevant files and writes an ordered, concrete plan naming the files to change.',
    systemPrompt: `You are a planning agent. ${WORKSPACE_NOTE} Study the relevant files, then produce an ordered, concrete plan: each step names the files it touches and how to check it is done. Note risks and open questions.`,
    tools: READ_ONLY_TOOLS,
    maxSteps: 10,
  },
  verify: {
    description: 'Checks claims against the files and gives the evidence for each, path and line.',
    systemPrompt: `You are a verification agent. ${WORKSPACE_NOTE} Check each claim you are given against the files themselves. Say which claims hold, which do not, and the evidence (path and line) either way.`,
    tools: READ_ONLY_TOOLS,
    maxSteps: 10,
  },
  general: {
    description:
      'A general software agent: gathers what the task needs with the read-only tools and answers.',
    systemPrompt: `You are a capable software agent. ${WORKSPACE_NOTE} Use the tools to gather what the task needs, then answer directly and completely.`,
    tools: READ_ONLY_TOOLS,
    maxSteps: 10,
  },
};

/**
 * The built-ins with the config's `agents` applied: fields given for a
 * built-in name override just those fields; a new name must bring its own
 * `systemPrompt` and gets read-only tools and 10 rounds unless it says otherwise.
 * A new system prompt without a new description is described by its own first sentence.
 */
export function mergeProfiles(
  overrides: Readonly<Record<string, ProfileOverride>>,
  source: string,
): Record<string, AgentProfile> {
  const profiles: Record<string, AgentProfile> = { ...BUILT_IN_PROFILES };
  for (const [name, override] of Object.entries(overrides)) {
    const base = BUILT_IN_PROFILES[name] ?? BUILT_IN_PROFILES.general!;
    if (!BUILT_IN_PROFILES[name] && override.systemPrompt === undefined) {
      throw new InputError(`${source}: invalid agents.${name}.systemPrompt: required for a new agent`);
    }
    const description =
      override.description ??
      (override.systemPrompt === undefined ? base.description : firstSentence(override.systemPrompt));
    profiles[name] = { ...base, ...override, description };
  }
  return profiles;
}

const MAX_DESCRIPTION_CHARS = 200;

/** The text up to its first full stop (or `!`, `?`) followed by a space, as one line of at most 200 characters. */
export function firstSentence(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  const sentence = /^.*?[.!?](?= |$)/.exec(line)?.[0] ?? line;
  return sentence.length <= MAX_DESCRIPTION_CHARS
    ? sentence
    : `${sentence.slice(0, MAX_DESCRIPTION_CHARS - 1)}…`;
}
