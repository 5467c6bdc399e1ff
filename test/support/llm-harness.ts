/**
 * One interface over the two fake providers, so every LLM executor behaviour
 * is tested against both wire protocols with the same test code.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { AgentStepSpec } from '../../src/contracts';
import type { StepContext } from '../../src/executors/executor';
import type { ToolCall, ToolSpec } from '../../src/executors/llm/chat';
import type { LlmConfigFile } from '../../src/executors/llm/config';
import { LlmExecutor } from '../../src/executors/llm/llm-executor';
import {
  anthropicError,
  anthropicSystemPrompt,
  anthropicText,
  anthropicToolNames,
  anthropicToolResults,
  anthropicToolUse,
  startFakeAnthropic,
} from './fake-anthropic';
import type { FakeReply, FakeRequest, FakeServer, Responder } from './fake-http';
import {
  openAiBaseUrl,
  openAiError,
  openAiSystemPrompt,
  openAiText,
  openAiToolCalls,
  openAiToolNames,
  openAiToolResults,
  startFakeOpenAI,
} from './fake-openai';

export interface ProtocolHarness {
  type: 'openai' | 'anthropic';
  start(fallback?: Responder): Promise<FakeServer>;
  baseUrl(server: FakeServer): string;
  text(content: string, tokens?: [number, number]): FakeReply;
  toolCalls(calls: Omit<ToolCall, 'id'>[], tokens?: [number, number]): FakeReply;
  error(status: number, message: string, headers?: Record<string, string>): FakeReply;
  toolResults(request: FakeRequest): Record<string, string>;
  systemPrompt(request: FakeRequest): string;
  toolNames(request: FakeRequest): string[];
  /** The tool named `name` as the request offered it, in the provider-neutral shape. */
  toolSpec(request: FakeRequest, name: string): ToolSpec | undefined;
  toolChoice(request: FakeRequest): string | undefined;
  /** The header that carried the API key. */
  sentKey(request: FakeRequest): string | undefined;
}

export const PROTOCOLS: ProtocolHarness[] = [
  {
    type: 'openai',
    start: startFakeOpenAI,
    baseUrl: openAiBaseUrl,
    text: openAiText,
    toolCalls: openAiToolCalls,
    error: openAiError,
    toolResults: openAiToolResults,
    systemPrompt: openAiSystemPrompt,
    toolNames: openAiToolNames,
    toolSpec: (r, name) =>
      (r.body.tools ?? []).find((t: { function: ToolSpec }) => t.function.name === name)?.function,
    toolChoice: (r) => r.body.tool_choice,
    sentKey: (r) => r.headers.authorization?.replace(/^Bearer /, ''),
  },
  {
    type: 'anthropic',
    start: startFakeAnthropic,
    baseUrl: (server) => server.url,
    text: anthropicText,
    toolCalls: anthropicToolUse,
    error: anthropicError,
    toolResults: anthropicToolResults,
    systemPrompt: anthropicSystemPrompt,
    toolNames: anthropicToolNames,
    toolSpec: (r, name) => {
      const tool = (r.body.tools ?? []).find((t: { name: string }) => t.name === name);
      return tool && { name: tool.name, description: tool.description, parameters: tool.input_schema };
    },
    toolChoice: (r) => r.body.tool_choice?.type,
    // SDK 1.x sends the key as a bearer token; older ones used x-api-key.
    sentKey: (r) =>
      (r.headers['x-api-key'] as string | undefined) ?? r.headers.authorization?.replace(/^Bearer /, ''),
  },
];

export const FAKE_KEY = 'sk-fake-0123456789abcdef';
export const SECRET_TEXT = 'the-secret-outside-the-workspace';

/**
 * A workspace with `src/a.ts`, `src/b.ts` and `README.md`, plus a file
 * outside it and a symbolic link inside pointing at that file.
 */
export function makeWorkspace(): { root: string; outside: string } {
  const base = mkdtempSync(join(tmpdir(), 'tao-llm-'));
  const root = join(base, 'ws');
  const outside = join(base, 'outside');
  mkdirSync(join(root, 'src'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(root, 'src', 'a.ts'), 'export const a = 1;\n');
  writeFileSync(join(root, 'src', 'b.ts'), 'export const b = 2; // TODO: remove\n');
  writeFileSync(join(root, 'README.md'), '# demo\n');
  writeFileSync(join(outside, 'secret.txt'), SECRET_TEXT);
  symlinkSync(join(outside, 'secret.txt'), join(root, 'link-out'));
  return { root, outside };
}

/** A fresh fake server for `protocol` and a fresh workspace around each test of the calling block. */
export function fakeProviderPerTest(protocol: ProtocolHarness): { server: FakeServer; workspace: string } {
  const fixture = {} as { server: FakeServer; workspace: string };
  beforeEach(async () => {
    fixture.server = await protocol.start();
    fixture.workspace = makeWorkspace().root;
  });
  afterEach(async () => {
    await fixture.server.close();
    rmSync(dirname(fixture.workspace), { recursive: true, force: true });
  });
  return fixture;
}

/** An executor whose only provider (`fake`) is the given fake server; the key comes from env FAKE_KEY. */
export function fakeExecutor(
  protocol: ProtocolHarness,
  server: FakeServer,
  workspace: string,
  config: LlmConfigFile = {},
  env: NodeJS.ProcessEnv = {},
): Promise<LlmExecutor> {
  return LlmExecutor.create(
    {
      provider: 'fake',
      model: 'fake-model',
      workspace,
      ...config,
      providers: {
        fake: { type: protocol.type, baseUrl: protocol.baseUrl(server), apiKeyEnv: 'FAKE_KEY' },
        ...config.providers,
      },
    },
    { source: 'test config', env: { ...env, FAKE_KEY } },
  );
}

/** Offers no delegation (add `delegation` for a step that may delegate), so the executor answers with an outcome. */
export interface RecordingContext extends Omit<StepContext, 'delegation'> {
  beats: unknown[];
  /** Every state the executor saved, oldest first. */
  states: unknown[];
  /** Every output the executor published, oldest first. */
  outputs: string[];
  controller: AbortController;
}

/** A step context that records what the executor reports; `resumeState` is what a retry would be given. */
export function stepContext(attempt = 1, resumeState?: unknown): RecordingContext {
  const controller = new AbortController();
  const beats: unknown[] = [];
  const states: unknown[] = [];
  const outputs: string[] = [];
  return {
    signal: controller.signal,
    heartbeat: (details) => beats.push(details),
    saveState: async (state) => {
      states.push(state);
    },
    output: (text) => outputs.push(text),
    attempt,
    workflowId: 'wf-test',
    ...(resumeState !== undefined ? { resumeState } : {}),
    beats,
    states,
    outputs,
    controller,
  };
}

export const llmSpec = (overrides: Partial<AgentStepSpec> = {}): AgentStepSpec => ({
  taskId: 't1',
  agent: 'explore',
  description: '',
  prompt: 'What does src/a.ts export?',
  ...overrides,
});
