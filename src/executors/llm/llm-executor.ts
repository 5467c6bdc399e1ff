/**
 * The `llm` executor: each step is a tool-using conversation with a model,
 * run by the step's agent profile inside the workspace. Providers are the
 * official OpenAI and Anthropic SDKs with their own retries off: every
 * failure is classified (see ./errors) and Temporal's retry policy decides.
 */
import { stat } from 'node:fs/promises';
import type { AgentStepSpec, StepOutcome } from '../../contracts';
import { InputError, readDataFile } from '../../config/data-file';
import { type AgentExecutor, NonRetryableStepError, RetryableStepError, type StepContext } from '../executor';
import { compileOutputSchema } from '../structured-output';
import type { ChatMessage, ChatProvider, ChatTurn } from './chat';
import {
  type LlmConfigFile,
  LlmConfigFileSchema,
  type LlmSettings,
  type ProviderSettings,
  type ResolvedProfile,
  resolveLlmSettings,
} from './config';
import { anthropicProvider } from './providers/anthropic';
import { openAiProvider } from './providers/openai';
import { createToolbox } from './tools';
import { Workspace } from './workspace';

const PROTOCOLS: Record<ProviderSettings['type'], (settings: ProviderSettings) => ChatProvider> = {
  openai: openAiProvider,
  anthropic: anthropicProvider,
};

/** What the heartbeat carries after every round, so a slow step shows it is getting somewhere. */
export interface LlmStepProgress {
  round: number;
  maxRounds: number;
  inputTokens: number;
  outputTokens: number;
}

export class LlmExecutor implements AgentExecutor {
  /** One client per provider, reused across steps for connection keep-alive. */
  private readonly providers = new Map<string, ChatProvider>();

  private constructor(
    private readonly settings: LlmSettings,
    private readonly workspace: Workspace,
  ) {}

  /** Resolves settings (file over env) and opens the workspace; every mistake is an {@link InputError}. */
  static async create(
    config: LlmConfigFile = {},
    options: { source?: string; env?: NodeJS.ProcessEnv } = {},
  ): Promise<LlmExecutor> {
    const settings = resolveLlmSettings(config, options.source, options.env);
    const isDir = await stat(settings.workspace).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isDir) {
      throw new InputError(
        `LLM workspace ${settings.workspace} is not a directory; set workspace: in the config or TAO_LLM_WORKSPACE`,
      );
    }
    return new LlmExecutor(settings, await Workspace.open(settings.workspace));
  }

  static async fromFile(path: string): Promise<LlmExecutor> {
    return LlmExecutor.create(await readDataFile(path, LlmConfigFileSchema), { source: path });
  }

  concurrencyHint(): number {
    return this.settings.concurrency;
  }

  async executeStep(spec: AgentStepSpec, context: StepContext): Promise<StepOutcome> {
    const profile = this.settings.profiles[spec.agent];
    if (!profile) {
      throw new NonRetryableStepError(
        `unknown agent "${spec.agent}"; known: ${Object.keys(this.settings.profiles).sort().join(', ')}. Add it under agents: in the LLM config file`,
      );
    }
    const check = spec.outputSchema ? compileOutputSchema(spec.outputSchema) : undefined;
    const started = Date.now();
    const deadline = AbortSignal.timeout(this.settings.timeoutMs);
    const signal = AbortSignal.any([context.signal, deadline]);
    const base = { taskId: spec.taskId, agent: spec.agent, sessionId: `task-run-${spec.taskId}` };
    const tokens = { inputTokens: 0, outputTokens: 0 };
    const finish = (outcome: { output: string; success: boolean; error?: string; structured?: unknown }) => ({
      ...base,
      ...outcome,
      usage: { ...tokens, model: profile.model, latencyMs: Date.now() - started },
    });

    try {
      const answer = await this.converse(spec, profile, signal, started, (turn, round, maxRounds) => {
        tokens.inputTokens += turn.inputTokens;
        tokens.outputTokens += turn.outputTokens;
        context.heartbeat({ round, maxRounds, ...tokens } satisfies LlmStepProgress);
      });
      if ('failure' in answer) return finish({ output: answer.text, success: false, error: answer.failure });
      if (!check) return finish({ output: answer.text, success: true });
      const structured = check(answer.text);
      return structured.ok
        ? finish({ output: answer.text, success: true, structured: structured.value })
        : finish({
            output: answer.text,
            success: false,
            error: `structured output rejected: ${structured.reason}`,
          });
    } catch (error) {
      if (context.signal.aborted) throw error;
      if (deadline.aborted) {
        throw new RetryableStepError(
          `step exceeded its ${this.settings.timeoutMs} ms timeout; raise timeoutMs in the LLM config if the model is just slow`,
        );
      }
      throw error;
    }
  }

  /**
   * The tool loop: ask the model, run the tools it calls, give it the
   * results, until it answers without calling tools. On the last allowed
   * round tools are withheld (`toolChoice: none`) so it must answer.
   */
  private async converse(
    spec: AgentStepSpec,
    profile: ResolvedProfile,
    signal: AbortSignal,
    started: number,
    onTurn: (turn: ChatTurn, round: number, maxRounds: number) => void,
  ): Promise<{ text: string } | { text: string; failure: string }> {
    const provider = this.providerFor(profile.provider);
    const toolbox = createToolbox(this.workspace, profile.tools);
    const maxRounds = spec.maxSteps ?? profile.maxSteps;
    const system = systemPrompt(profile, spec);
    const messages: ChatMessage[] = [{ role: 'user', text: spec.prompt }];
    for (let round = 1; ; round++) {
      const turn = await provider.complete({
        model: profile.model,
        system,
        messages,
        tools: toolbox.specs,
        toolChoice: round < maxRounds ? 'auto' : 'none',
        ...(profile.temperature !== undefined ? { temperature: profile.temperature } : {}),
        ...(profile.maxTokens !== undefined ? { maxTokens: profile.maxTokens } : {}),
        signal,
        timeoutMs: Math.max(1, this.settings.timeoutMs - (Date.now() - started)),
      });
      onTurn(turn, round, maxRounds);
      if (turn.finish === 'length') {
        return {
          text: turn.text,
          failure: `the answer was cut off at the output token limit${profile.maxTokens ? ` (maxTokens ${profile.maxTokens})` : ''} or the context window; raise maxTokens for agent "${spec.agent}" or ask for less`,
        };
      }
      if (turn.toolCalls.length === 0) return { text: turn.text };
      if (round >= maxRounds) {
        return {
          text: turn.text,
          failure: `no final answer within maxSteps ${maxRounds} rounds: the model still wanted tools; raise maxSteps or narrow the task`,
        };
      }
      messages.push({ role: 'assistant', text: turn.text, toolCalls: turn.toolCalls });
      const results = [];
      for (const call of turn.toolCalls) results.push(await toolbox.run(call, signal));
      messages.push({ role: 'tool', results });
    }
  }

  private providerFor(name: string): ChatProvider {
    let provider = this.providers.get(name);
    if (!provider) {
      const settings = this.settings.providers[name]!;
      provider = PROTOCOLS[settings.type](settings);
      this.providers.set(name, provider);
    }
    return provider;
  }
}

function systemPrompt(profile: ResolvedProfile, spec: AgentStepSpec): string {
  if (!spec.outputSchema) return profile.systemPrompt;
  return `${profile.systemPrompt}\n\nYour final answer must be only a JSON value, with no other text, that validates against this JSON Schema:\n${JSON.stringify(spec.outputSchema)}`;
}
