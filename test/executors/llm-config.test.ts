/** LLM executor settings: profiles, providers, keys and models from a config file over env. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { PipelineInputSchema } from '../../src/contracts';
import { InputError, readDataFile } from '../../src/config/data-file';
import { type LlmConfigFile, LlmConfigFileSchema, resolveLlmSettings } from '../../src/executors/llm/config';
import { createExecutor } from '../../src/executors/registry';

const resolve = (file: LlmConfigFile, env: NodeJS.ProcessEnv = {}) =>
  resolveLlmSettings(file, 'llm.yaml', env);
const keyed = { OPENAI_API_KEY: 'sk-test', TAO_LLM_MODEL: 'gpt-test' };

describe('LLM settings', () => {
  test('built-in profiles use the default provider and model; overrides change only the fields given', () => {
    const settings = resolve({ agents: { review: { model: 'big-model', temperature: 0 } } }, keyed);
    expect(Object.keys(settings.profiles).sort()).toEqual(['explore', 'general', 'plan', 'review', 'verify']);
    expect(settings.profiles.explore).toMatchObject({ provider: 'openai', model: 'gpt-test', maxSteps: 12 });
    expect(settings.profiles.review).toMatchObject({
      provider: 'openai',
      model: 'big-model',
      temperature: 0,
      systemPrompt: expect.stringMatching(/^You are a code review agent/),
      tools: ['read_file', 'list_directory', 'search_text', 'glob'],
    });
    expect(settings.providers.openai).toEqual({
      name: 'openai',
      type: 'openai',
      apiKey: 'sk-test',
      keySource: 'OPENAI_API_KEY',
    });
  });

  test('new agents need a system prompt and get read-only tools by default', () => {
    expect(() => resolve({ agents: { auditor: { model: 'm' } } }, keyed)).toThrow(
      new InputError('llm.yaml: invalid agents.auditor.systemPrompt: required for a new agent'),
    );
    const settings = resolve({ agents: { auditor: { systemPrompt: 'Audit.', tools: ['glob'] } } }, keyed);
    expect(settings.profiles.auditor).toMatchObject({
      systemPrompt: 'Audit.',
      tools: ['glob'],
      maxSteps: 10,
    });
  });

  test('delegation gets its defaults; catalog descriptions fall back to the first sentence of the system prompt', () => {
    const settings = resolve(
      {
        agents: {
          lead: {
            systemPrompt: 'You split a change   into reviews. Then you merge them.',
            delegation: { agents: ['review', 'scout', 'review'], maxDepth: 1 },
          },
          scout: {
            systemPrompt: `Scouts ${'far and wide '.repeat(20)}without stopping`,
            description: 'Looks around.',
          },
          general: { systemPrompt: 'You do anything! Really.' },
        },
      },
      keyed,
    );
    expect(settings.profiles.lead).toMatchObject({
      description: 'You split a change into reviews.',
      delegation: { agents: ['review', 'scout'], maxTasksPerCall: 8, maxTasksPerStep: 32, maxDepth: 1 },
    });
    expect(settings.profiles.scout!.description).toBe('Looks around.');
    expect(settings.profiles.general!.description).toBe('You do anything!');
    expect(settings.profiles.review!.description).toMatch(/^Reviews code for concrete defects/);
    const long = resolve(
      { agents: { scout: { systemPrompt: `Scouts ${'far and wide '.repeat(20)}` } } },
      keyed,
    );
    expect(long.profiles.scout!.description).toHaveLength(200);
    expect(long.profiles.scout!.description).toMatch(/^Scouts far and wide .*…$/);
    // No built-in delegates unless the config says so.
    expect(Object.values(long.profiles).filter((profile) => profile.delegation)).toEqual([]);
  });

  test('an OpenAI-compatible local server needs a base URL, not a key', () => {
    const settings = resolve(
      {
        provider: 'ollama',
        model: 'qwen2.5-coder',
        providers: { ollama: { type: 'openai', baseUrl: 'http://127.0.0.1:11434/v1' } },
      },
      {},
    );
    expect(settings.providers.ollama).toEqual({
      name: 'ollama',
      type: 'openai',
      baseUrl: 'http://127.0.0.1:11434/v1',
      keySource: 'providers.ollama.apiKeyEnv in llm.yaml',
    });
  });

  test('env picks provider, model and base URL when the file does not', () => {
    const settings = resolve(
      {},
      {
        TAO_LLM_PROVIDER: 'anthropic',
        TAO_LLM_MODEL: 'claude-test',
        ANTHROPIC_API_KEY: 'ak',
        ANTHROPIC_BASE_URL: 'http://proxy:8080',
      },
    );
    expect(settings.profiles.plan).toMatchObject({ provider: 'anthropic', model: 'claude-test' });
    expect(settings.providers.anthropic).toMatchObject({ baseUrl: 'http://proxy:8080', apiKey: 'ak' });
  });

  test.each<[string, LlmConfigFile, NodeJS.ProcessEnv, string]>([
    [
      'no key for a vendor endpoint',
      { model: 'gpt-test' },
      {},
      'llm.yaml: provider "openai" has no API key; set OPENAI_API_KEY, or give the provider a baseUrl if it is a local server that needs none',
    ],
    [
      'no model anywhere',
      {},
      { OPENAI_API_KEY: 'k' },
      'llm.yaml: agent "explore" has no model; set model: in the config file (or in the agent), or TAO_LLM_MODEL',
    ],
    [
      'an unknown provider',
      { agents: { plan: { provider: 'mistral' } } },
      keyed,
      'llm.yaml: agent "plan" uses provider "mistral", which is not configured; known: openai, anthropic',
    ],
    [
      'a key given twice',
      { providers: { openai: { type: 'openai', apiKey: 'a', apiKeyEnv: 'B' } } },
      keyed,
      'llm.yaml: invalid providers.openai: give apiKey or apiKeyEnv, not both',
    ],
    [
      'a delegation to an agent that does not exist',
      { agents: { lead: { systemPrompt: 'You lead.', delegation: { agents: ['review', 'wizard'] } } } },
      keyed,
      'llm.yaml: agent "lead" delegates to "wizard", which is not an agent; known: explore, general, lead, plan, review, verify',
    ],
    [
      'a toolApproval rule for a tool the agent is not offered',
      {
        agents: {
          review: { toolApproval: { rules: [{ decision: 'allow', tool: 'run_shell', prefix: 'npm test' }] } },
        },
      },
      keyed,
      'llm.yaml: agent "review" toolApproval.rules.0 (allow run_shell(npm test:*)) names run_shell, which the agent\'s tools do not list; add it there or drop the rule',
    ],
    [
      'a toolApproval rule for an MCP server the agent does not use',
      { agents: { review: { toolApproval: { rules: [{ decision: 'deny', tool: 'github.*' }] } } } },
      keyed,
      'llm.yaml: agent "review" toolApproval.rules.0 (deny github.*) names MCP server "github", which the agent\'s mcpServers do not list; add it there or drop the rule',
    ],
  ])('%s is a clear error at start', (_, file, env, message) => {
    expect(() => resolve(file, env)).toThrow(new InputError(message));
  });
});

describe('llm executor references', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'tao-llm-config-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('llm:<file> loads a YAML config; a bad field is one line naming file and field', async () => {
    const file = join(dir, 'llm.yaml');
    const local =
      'provider: local\nmodel: m\nproviders:\n  local: { type: openai, baseUrl: "http://127.0.0.1:1/v1" }\n';
    writeFileSync(file, `${local}concurrency: 7\nworkspace: ${dir}\n`);
    expect((await createExecutor(`llm:${file}`)).concurrencyHint()).toBe(7);

    writeFileSync(file, `${local}agents:\n  review: { tools: [read_file, rm_rf] }\n`);
    await expect(createExecutor(`llm:${file}`)).rejects.toThrow(
      new RegExp(`^${file}: invalid agents\\.review\\.tools\\.1: Invalid enum value`),
    );
    writeFileSync(file, `${local}agents:\n  review: { delegation: { agents: [] } }\n`);
    await expect(createExecutor(`llm:${file}`)).rejects.toThrow(
      new RegExp(`^${file}: invalid agents\\.review\\.delegation\\.agents: Array must contain at least 1`),
    );
    writeFileSync(
      file,
      `${local}agents:\n  review: { tools: [run_shell], toolApproval: { rules: ['maybe run_shell'] } }\n`,
    );
    await expect(createExecutor(`llm:${file}`)).rejects.toThrow(
      `${file}: invalid agents.review.toolApproval.rules.0.decision: "maybe" is not a decision; use allow, ask or deny`,
    );
    writeFileSync(file, `${local}workspace: ${join(dir, 'missing')}\n`);
    await expect(createExecutor(`llm:${file}`)).rejects.toThrow(/LLM workspace .*missing is not a directory/);
    await expect(createExecutor(`llm:${join(dir, 'nope.yaml')}`)).rejects.toThrow(
      /nope\.yaml: cannot read \(ENOENT\)/,
    );
  });

  test('an unknown executor names the choices', async () => {
    await expect(createExecutor('gpt')).rejects.toThrow(
      'unknown executor "gpt"; use script, script:<file>, llm, llm:<file> or command:<file>',
    );
  });
});

describe('the shipped examples', () => {
  const example = (name: string) => join(__dirname, '..', '..', 'examples', name);

  test('delegate-llm.yaml loads: its lead delegates to the built-in reviewers', async () => {
    const llm = await readDataFile(example('delegate-llm.yaml'), LlmConfigFileSchema);
    const settings = resolveLlmSettings(llm, 'examples/delegate-llm.yaml', { OPENAI_API_KEY: 'k' });
    expect(settings.profiles.lead).toMatchObject({
      delegation: { agents: ['explore', 'review', 'verify'], maxTasksPerCall: 4 },
    });
  });

  test('llm.yaml, review-pipeline.yaml and agent-cli.yaml load', async () => {
    const llm = await readDataFile(example('llm.yaml'), LlmConfigFileSchema);
    const settings = resolveLlmSettings(llm, 'examples/llm.yaml', { OPENAI_API_KEY: 'k' });
    expect(settings.profiles.review).toMatchObject({
      provider: 'openai',
      model: 'gpt-4.1-mini',
      temperature: 0.2,
    });
    expect(settings.profiles.fixer!.tools).toContain('run_shell');
    expect(settings.profiles.fixer!.toolApproval!.default).toBe('deny');
    expect(settings.profiles.fixer!.toolApproval!.rules!.slice(0, 3)).toEqual([
      { decision: 'deny', tool: 'write_file', path: '.github/**' },
      { decision: 'allow', tool: 'write_file', path: '**' },
      { decision: 'allow', tool: 'run_shell', prefix: 'npm test' },
    ]);

    const pipeline = await readDataFile(
      example('review-pipeline.yaml'),
      z.object({ workflow: z.literal('pipeline'), input: PipelineInputSchema }),
    );
    expect(pipeline.input.stages.map((s) => s.agent)).toEqual(['explore', 'review', 'verify']);

    expect((await createExecutor(`command:${example('agent-cli.yaml')}`)).concurrencyHint()).toBe(2);
  });
});
