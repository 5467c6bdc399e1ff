/**
 * The `llm` executor: each step is a tool-using conversation with a model,
 * run by the step's agent profile inside the workspace. Providers are the
 * official OpenAI and Anthropic SDKs with their own retries off: every
 * failure is classified (see ./errors) and Temporal's retry policy decides.
 */
import { stat } from 'node:fs/promises';
import type {
  AgentStepSpec,
  DelegationCall,
  StepCache,
  StepMessage,
  StepOutcome,
  ToolCallRequest,
} from '../../contracts';
import { InputError, readDataFile } from '../../config/data-file';
import { type GenAiSpans, genAiSpans } from '../../telemetry/genai-spans';
import {
  type AgentExecutor,
  type ExecutorResult,
  NonRetryableStepError,
  RetryableStepError,
  type StepCacheIdentity,
  type StepContext,
  agentCachesOf,
} from '../executor';
import { compileOutputSchema } from '../structured-output';
import {
  type ApprovalPolicy,
  type Verdict,
  compileGrants,
  compilePolicy,
  decide,
  denialText,
} from './approval/decide';
import { withApprovalDefaults } from './approval/rules';
import type { ChatProvider, ToolCall, ToolResult, ToolSpec } from './chat';
import {
  type LlmConfigFile,
  LlmConfigFileSchema,
  type LlmSettings,
  type ProviderSettings,
  type ResolvedProfile,
  resolveLlmSettings,
  settingsSecrets,
} from './config';
import { type Delegator, delegatorFor } from './delegation';
import { type AskedQuestion, type Asker, ASK_USER, askerFor } from './ask-user';
import {
  type ApprovedCall,
  delegationState,
  resumeAfterAnswer,
  resumeAfterDelegation,
  resumeAfterToolDecision,
} from './hand-back';
import {
  type Conversation,
  conversationKey,
  furthest,
  pendingToolCalls,
  resumeConversation,
  startConversation,
  withMessages,
  withToolResult,
  withTurn,
} from './resume';
import type { McpServers } from './mcp/servers';
import { type Toolbox, createToolbox } from './tools';
import { LlmTranscript } from './transcript';
import { TurnPacer } from './turn-pacer';
import { costUsd, usageTokens } from './usage';
import { Workspace } from './workspace';

/** Each protocol's module, with its SDK, is loaded when a step first calls a provider that speaks it. */
const PROTOCOLS: Record<ProviderSettings['type'], (settings: ProviderSettings) => Promise<ChatProvider>> = {
  openai: async (settings) => (await import('./providers/openai')).openAiProvider(settings),
  anthropic: async (settings) => (await import('./providers/anthropic')).anthropicProvider(settings),
};

const HTTP_TIMEOUT_SLACK_MS = 1_000;

/** What one call of the tool loop works with. */
interface ConverseOptions {
  spec: AgentStepSpec;
  profile: ResolvedProfile;
  system: string;
  toolbox: Toolbox;
  /** Set when the profile has toolApproval: every toolbox call is decided by it before it runs. */
  approval?: ApprovalPolicy;
  /** The run's granted allows ("approve for this run"), for calls an ask rule matches. */
  grants: ReturnType<typeof compileGrants>;
  /** The call a person approved, when this attempt resumes from that decision: it runs undecided. */
  approved?: ApprovedCall;
  /** Set when the step may delegate: it handles the `task` / `parallel_task` calls. */
  delegator?: Delegator;
  /** Set when the profile has `askUser`: it handles the `ask_user` calls. */
  asker?: Asker;
  /** What the model is offered: the toolbox's tools, the delegator's and the asker's. */
  tools: ToolSpec[];
  /** Each model call and tool call runs in its span (src/telemetry/genai-spans.ts). */
  spans: GenAiSpans;
  maxRounds: number;
  signal: AbortSignal;
  started: number;
  /** The run's token budget left, when it has one: no model call starts once the step has used it. */
  tokensLeft?: number;
  /** Tokens the budget was already charged for when `tokensLeft` was measured: a resumed step's earlier ones. */
  tokensCharged: number;
  /** Called with every new state of the conversation (an answered turn, a recorded tool result); resolves once it is saved. */
  record(conversation: Conversation): Promise<void>;
  /** Where each turn, tool result and delegation is told, once saved (./transcript). */
  transcript: LlmTranscript;
  onText(textSoFar: string): void;
  onProgress(): void;
  /** The messages people sent the step after a number (StepContext.messages); absent where none can be sent. */
  messages?: (after: number) => Promise<StepMessage[]>;
}

/** What the heartbeat carries after every round, so a slow step shows it is getting somewhere. */
export interface LlmStepProgress {
  round: number;
  maxRounds: number;
  inputTokens: number;
  outputTokens: number;
  /** Tool calls toolApproval denied so far; absent while none was. */
  deniedToolCalls?: number;
}

export class LlmExecutor implements AgentExecutor {
  /** Its agents read what people send them mid-step before their next model call. */
  readonly acceptsMessages = true;
  /** One client per provider, reused across steps for connection keep-alive. */
  private readonly providers = new Map<string, Promise<ChatProvider>>();
  /** Started on first use, by a profile that names MCP servers, and shared by every step of this worker. */
  private mcp?: Promise<McpServers>;
  /** Shared by every step of this worker, so a burst of starting steps opens its requests in turn. */
  private readonly pacer = new TurnPacer();

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

  /** The agent's profile and model, and where its provider and workspace are; keys (secrets) stay out. */
  cacheIdentity(spec: AgentStepSpec): StepCacheIdentity {
    const found = this.settings.profiles[spec.agent];
    const provider = found && this.settings.providers[found.provider];
    const config = {
      provider: provider ? { type: provider.type, baseUrl: provider.baseUrl ?? null } : null,
      workspace: this.settings.workspace,
    };
    if (!found) return { config };
    // The profile's own cache settings say how long and under which key an outcome is kept, not what it is.
    return { profile: { ...found, cache: undefined }, model: `${found.provider}/${found.model}`, config };
  }

  agentCaches(): Record<string, StepCache> {
    return agentCachesOf(this.settings.profiles);
  }

  /** Stops the MCP servers this worker started. */
  async close(): Promise<void> {
    await (await this.mcp)?.close();
  }

  /** Without a delegation allowance a step never delegates: it ends with its outcome. */
  async executeStep(
    spec: AgentStepSpec,
    context: StepContext & { delegation?: undefined },
  ): Promise<StepOutcome>;
  async executeStep(spec: AgentStepSpec, context: StepContext): Promise<ExecutorResult>;
  async executeStep(spec: AgentStepSpec, context: StepContext): Promise<ExecutorResult> {
    const profile = this.settings.profiles[spec.agent];
    if (!profile) {
      throw new NonRetryableStepError(
        `unknown agent "${spec.agent}"; known: ${Object.keys(this.settings.profiles).sort().join(', ')}. Add it under agents: in the LLM config file`,
      );
    }
    const check = spec.outputSchema ? await compileOutputSchema(spec.outputSchema) : undefined;
    const started = Date.now();
    const deadline = AbortSignal.timeout(this.settings.timeoutMs);
    const signal = AbortSignal.any([context.signal, deadline]);
    const mcpTools = profile.mcpServers?.length
      ? await (await this.mcpServers()).toolsFor(profile.mcpServers, signal)
      : [];
    const toolbox = createToolbox(this.workspace, profile.tools, mcpTools);
    const approval = profile.toolApproval && compilePolicy(withApprovalDefaults(profile.toolApproval));
    const delegator = delegatorFor(profile, context.delegation, this.settings.profiles);
    const asker = askerFor(profile.askUser);
    const tools = [...toolbox.specs, ...(delegator?.specs ?? []), ...(asker ? [asker.spec] : [])];
    const system = systemPrompt(profile, spec);
    const key = conversationKey({
      taskId: spec.taskId,
      agent: spec.agent,
      prompt: spec.prompt,
      model: profile.model,
      system,
      tools: tools.map((tool) => tool.name),
    });
    const handedBack = context.delegation?.resume;
    const resumed = handedBack
      ? resumeAfterDelegation(handedBack, key, spec.taskId)
      : context.answer
        ? resumeAfterAnswer(context.answer, key, spec.taskId)
        : context.toolDecision && resumeAfterToolDecision(context.toolDecision, key, spec.taskId);
    // A retry of a resumed attempt may have got further than the state the workflow handed back.
    let conversation =
      furthest(resumeConversation(context.resumeState, key), resumed?.conversation) ??
      startConversation(key, spec.prompt);
    const maxRounds = spec.maxSteps ?? profile.maxSteps;
    const record = async (next: Conversation) => {
      const answered = next.rounds !== conversation.rounds;
      conversation = next;
      const saved = context.saveState(next);
      if (answered) {
        const { rounds: round, inputTokens, outputTokens, denied } = next;
        const progress: LlmStepProgress = { round, maxRounds, inputTokens, outputTokens };
        context.heartbeat(denied ? { ...progress, deniedToolCalls: denied } : progress);
      }
      await saved;
    };
    const base = { taskId: spec.taskId, agent: spec.agent, sessionId: `task-run-${spec.taskId}` };
    // Turns a resumed attempt restored count too: they were paid for once, and only once.
    const price = this.settings.prices[profile.model];
    const protocol = this.settings.providers[profile.provider]!.type;
    const latencyMs = () => (resumed?.latencyMs ?? 0) + Date.now() - started;
    const usage = () => ({
      ...usageTokens(conversation),
      model: profile.model,
      latencyMs: latencyMs(),
      ...(price ? { costUsd: costUsd(conversation, price, protocol) } : {}),
    });
    const secrets = settingsSecrets(this.settings);
    const transcript = new LlmTranscript(context.events, {
      secrets,
      model: profile.model,
      costOf: (tokens) => (price ? costUsd(tokens, price, protocol) : undefined),
    });
    transcript.attemptStarted(conversation.rounds);
    if (handedBack) transcript.delegationResults(handedBack.results);
    if (context.answer) {
      const { callId, text } = context.answer;
      transcript.toolResult(conversation.rounds, { callId, content: text, isError: false });
    }
    if (context.toolDecision) transcript.toolDecided(context.toolDecision);
    const finish = (outcome: { output: string; success: boolean; error?: string; structured?: unknown }) =>
      transcript.ended({ ...base, ...outcome, usage: usage() });

    try {
      const answer = await this.converse(conversation, {
        spec,
        profile,
        system,
        toolbox,
        ...(approval ? { approval } : {}),
        grants: compileGrants(context.toolGrants ?? []),
        ...(resumed?.approved ? { approved: resumed.approved } : {}),
        ...(delegator ? { delegator } : {}),
        ...(asker ? { asker } : {}),
        tools,
        spans: genAiSpans({
          provider: protocol,
          content: context.traceContent === true,
          secrets,
        }),
        maxRounds,
        signal,
        started,
        ...(context.tokensLeft !== undefined ? { tokensLeft: context.tokensLeft } : {}),
        tokensCharged: resumed?.tokens ?? 0,
        record,
        transcript,
        onText: (text) => context.output(text),
        onProgress: () => context.progress?.(),
        ...(context.messages ? { messages: context.messages } : {}),
      });
      if ('ask' in answer || 'askTool' in answer) {
        const waiting = { state: delegationState(conversation, latencyMs()), usage: usage() };
        return transcript.ended(
          'ask' in answer
            ? { question: { ...answer.ask, ...waiting } }
            : { toolCall: { ...answer.askTool, ...waiting } },
        );
      }
      if ('delegate' in answer) {
        return transcript.ended({
          delegation: {
            calls: answer.delegate,
            state: delegationState(conversation, latencyMs()),
            usage: usage(),
            maxDepth: delegator!.maxDepth,
          },
        });
      }
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
      transcript.crashed(error);
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
   * The tool loop, from wherever `conversation` stands: run the tool calls of
   * the last turn that have no result yet, else ask the model, until it
   * answers without calling tools. On the last allowed round tools are
   * withheld (`toolChoice: none`) so it must answer. Every answered turn and
   * every tool result is saved, durably, before the loop moves on: the next
   * tool call or model request never starts ahead of the record of the last.
   * It stops early, with `delegate`, when the model's calls include delegated
   * tasks to run.
   */
  private async converse(
    start: Conversation,
    turn: ConverseOptions,
  ): Promise<{ text: string } | { text: string; failure: string } | HandBack> {
    const { spec, profile, maxRounds, signal } = turn;
    const provider = await this.providerFor(profile.provider);
    let conversation = start;
    const record = (next: Conversation) => {
      conversation = next;
      return turn.record(next);
    };
    // Saved with their number before the model sees them: a retry neither loses one nor reads it twice.
    const readMessages = async (): Promise<boolean> => {
      const news = (await turn.messages?.(conversation.messagesRead ?? 0)) ?? [];
      if (news.length === 0) return false;
      await record(withMessages(conversation, news));
      turn.transcript.messages(news);
      return true;
    };
    for (;;) {
      const last = conversation.messages[conversation.messages.length - 1]!;
      if (last.role === 'assistant') {
        if (conversation.finish === 'length') {
          return {
            text: last.text,
            failure: `the answer was cut off at the output token limit${profile.maxTokens ? ` (maxTokens ${profile.maxTokens})` : ''} or the context window; raise maxTokens for agent "${spec.agent}" or ask for less`,
          };
        }
        if (last.toolCalls.length === 0) {
          // A message that came while the agent gave its answer is read, and the agent answers again.
          if (conversation.rounds < maxRounds && (await readMessages())) continue;
          return { text: last.text };
        }
        if (conversation.rounds >= maxRounds) {
          return {
            text: last.text,
            failure: `no final answer within maxSteps ${maxRounds} rounds: the model still wanted tools; raise maxSteps or narrow the task`,
          };
        }
      }
      const pending = pendingToolCalls(conversation);
      if (pending.length > 0) {
        const handed = await runToolCalls(pending, conversation, turn, record);
        if (!('delegate' in handed) || handed.delegate.length > 0) return handed;
        continue;
      }
      const used = conversation.inputTokens + conversation.outputTokens - turn.tokensCharged;
      if (turn.tokensLeft !== undefined && used >= turn.tokensLeft) {
        const said = last.role === 'assistant' ? last.text : '';
        const since = turn.tokensCharged > 0 ? ' since its delegated tasks ended' : '';
        return {
          text: said,
          failure: `stopped at the run's token budget: this step used ${used} of the ${turn.tokensLeft} tokens left${since}; raise it with the setBudget update`,
        };
      }
      await readMessages();
      const round = conversation.rounds + 1;
      await this.pacer.next();
      turn.transcript.turnStarted(round);
      const answer = await turn.spans.chat(provider, {
        model: profile.model,
        system: turn.system,
        messages: conversation.messages,
        tools: turn.tools,
        toolChoice: round < maxRounds ? 'auto' : 'none',
        ...(profile.temperature !== undefined ? { temperature: profile.temperature } : {}),
        ...(profile.maxTokens !== undefined ? { maxTokens: profile.maxTokens } : {}),
        signal,
        // The step's own deadline aborts the request first; the HTTP timeout, a little later, is only a
        // backstop, so a step over its time is reported as such and never as a connection error.
        timeoutMs: Math.max(1, this.settings.timeoutMs - (Date.now() - turn.started)) + HTTP_TIMEOUT_SLACK_MS,
        onText: (text) => {
          turn.transcript.text(round, text);
          turn.onText(text);
        },
        onProgress: turn.onProgress,
      });
      await record(withTurn(conversation, answer));
      turn.transcript.turnEnded(round, answer);
    }
  }

  private providerFor(name: string): Promise<ChatProvider> {
    let provider = this.providers.get(name);
    if (!provider) {
      const settings = this.settings.providers[name]!;
      provider = PROTOCOLS[settings.type](settings);
      this.providers.set(name, provider);
    }
    return provider;
  }

  // The MCP SDK is loaded with the first server: most workers name none.
  private mcpServers(): Promise<McpServers> {
    this.mcp ??= import('./mcp/servers').then(({ McpServers }) => new McpServers(this.settings.mcpServers));
    return this.mcp;
  }
}

/** A tool call an `ask` rule matched, as the step hands it to the workflow (without the state and usage it adds). */
type AskedToolCall = Omit<ToolCallRequest, 'state' | 'usage'>;

/** What the tool loop hands the workflow to go on from: tasks to run, a question, a tool call to decide. */
type HandBack = { delegate: DelegationCall[] } | { ask: AskedQuestion } | { askTool: AskedToolCall };

/**
 * Runs a turn's pending tool calls in the model's order and records each
 * result, except delegation calls it accepts: those it records as delegated
 * and returns, for the step to hand to the workflow. A refused one, and a
 * call the profile's toolApproval denies (it never runs), is recorded as the
 * error result the model reads. A question, or a call an `ask` rule matches,
 * stops it there: the calls after it wait, and run once it is settled.
 */
async function runToolCalls(
  pending: readonly ToolCall[],
  start: Conversation,
  turn: ConverseOptions,
  record: (next: Conversation) => Promise<void>,
): Promise<HandBack> {
  let conversation = start;
  const save = (next: Conversation) => {
    conversation = next;
    return record(next);
  };
  const round = conversation.rounds;
  // Told once saved: the transcript never shows a result a retry would run again.
  const saveResult = async (result: ToolResult, counts: Pick<Conversation, 'denied'> = {}) => {
    await save({ ...withToolResult(conversation, result), ...counts });
    turn.transcript.toolResult(round, result);
  };
  // A retry reviews again the calls of this turn an earlier attempt accepted (still pending): they count once.
  const earlier = (conversation.delegated ?? []).filter((call) => call.round !== round);
  let delegatedBefore = earlier.reduce((tasks, call) => tasks + call.tasks, 0);
  const accepted: DelegationCall[] = [];
  for (const call of pending) {
    if (turn.asker && call.name === ASK_USER) {
      const review = turn.asker.review(call);
      if ('refused' in review) {
        await saveResult(review.refused);
        continue;
      }
      // The calls after it, and tasks it delegated in this turn, wait with it: they run once it is answered.
      return { ask: review.asked };
    }
    if (!turn.delegator?.handles(call)) {
      const { approved: given } = turn;
      const approved = given?.callId === call.id && given.round === round ? given : undefined;
      const verdict = approved ? undefined : turn.approval && decide(call, turn.approval, turn.grants);
      if (verdict?.decision === 'ask') return { askTool: askedToolCall(call, verdict, start) };
      if (verdict?.decision === 'deny') {
        const denied: ToolResult = { callId: call.id, content: denialText(verdict), isError: true };
        await saveResult(denied, { denied: (conversation.denied ?? 0) + 1 });
      } else {
        await saveResult(await runTool(approved ? { ...call, input: approved.input } : call, turn, approved));
      }
      continue;
    }
    const review = await turn.delegator.review(call, delegatedBefore);
    if ('refused' in review) {
      await saveResult(review.refused);
      continue;
    }
    accepted.push(review.accepted);
    delegatedBefore += review.accepted.tasks.length;
  }
  if (accepted.length > 0) {
    const delegated = accepted.map(({ callId, tool, tasks, allowPartialFailure }) => ({
      round,
      callId,
      tool,
      tasks: tasks.length,
      allowPartialFailure,
    }));
    await save({ ...conversation, delegated: [...earlier, ...delegated] });
    turn.transcript.delegated(round, accepted);
  }
  return { delegate: accepted };
}

/** Runs one toolbox call; one a person approved with other arguments says so in its result. */
async function runTool(call: ToolCall, turn: ConverseOptions, approved?: ApprovedCall): Promise<ToolResult> {
  const result = await turn.spans.tool(call, () => turn.toolbox.run(call, turn.signal));
  if (!approved?.edited) return result;
  const ran = `[a person edited the arguments before it ran; it ran with ${JSON.stringify(call.input)}]`;
  return { ...result, content: `${ran}\n${result.content}` };
}

/** The call an ask rule matched, with the rule, what a grant would allow, and the text of the turn that made it. */
function askedToolCall(
  call: ToolCall,
  verdict: Extract<Verdict, { decision: 'ask' }>,
  conversation: Conversation,
): AskedToolCall {
  const turn = [...conversation.messages].reverse().find((message) => message.role === 'assistant');
  return {
    callId: call.id,
    tool: call.name,
    input: call.input,
    reason: turn && 'text' in turn ? turn.text : '',
    rule: `${verdict.rule.where} (${verdict.rule.text})`,
    grant: verdict.grant,
  };
}

function systemPrompt(profile: ResolvedProfile, spec: AgentStepSpec): string {
  if (!spec.outputSchema) return profile.systemPrompt;
  return `${profile.systemPrompt}\n\nYour final answer must be only a JSON value, with no other text, that validates against this JSON Schema:\n${JSON.stringify(spec.outputSchema)}`;
}
