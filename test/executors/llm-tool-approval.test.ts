/**
 * toolApproval in llm steps, end to end: the fake OpenAI server over HTTP,
 * real `run_shell` and `write_file` in a temporary workspace, and the real
 * MCP test server over stdio. What a denial leaves untouched is checked on disk.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type LlmConfigFile, LlmConfigFileSchema } from '../../src/executors/llm/config';
import type { LlmExecutor } from '../../src/executors/llm/llm-executor';
import { PROTOCOLS, fakeExecutor, fakeProviderPerTest, llmSpec, stepContext } from '../support/llm-harness';
import { countedCalls, mcpStdioCommand } from '../support/mcp-harness';

const openai = PROTOCOLS[0]!;

describe('toolApproval in llm steps', () => {
  const fixture = fakeProviderPerTest(openai);
  const executors: LlmExecutor[] = [];
  afterEach(async () => {
    await Promise.all(executors.splice(0).map((executor) => executor.close()));
  });

  /** An executor over `agents`, read through the config file's schema as a worker reads it. */
  async function executorFor(config: unknown, env: NodeJS.ProcessEnv = {}): Promise<LlmExecutor> {
    const file: LlmConfigFile = LlmConfigFileSchema.parse(config);
    const executor = await fakeExecutor(openai, fixture.server, fixture.workspace, file, env);
    executors.push(executor);
    return executor;
  }

  test('an allowed command runs; a denied one, chained or not, never does, and the model reads which rule and why', async () => {
    mkdirSync(join(fixture.workspace, 'build'));
    writeFileSync(join(fixture.workspace, 'build', 'keep.txt'), 'kept');
    const executor = await executorFor({
      agents: {
        fixer: {
          systemPrompt: 'You fix things.',
          tools: ['run_shell', 'write_file'],
          toolApproval: {
            default: 'deny',
            rules: [
              'allow run_shell(ls:*)',
              { decision: 'deny', tool: 'run_shell', prefix: 'rm', reason: 'deleting is for humans' },
              'allow write_file(notes/**)',
            ],
          },
        },
      },
    });
    fixture.server.reply(
      openai.toolCalls([
        { name: 'run_shell', input: { command: 'ls build' } },
        { name: 'run_shell', input: { command: 'rm -rf build' } },
        { name: 'run_shell', input: { command: 'ls build && rm -rf build' } },
        { name: 'write_file', input: { path: 'src/a.ts', content: 'overwritten' } },
        { name: 'write_file', input: { path: 'notes/plan.md', content: 'plan' } },
      ]),
      openai.text('build is still there'),
    );
    const context = stepContext();

    const outcome = await executor.executeStep(llmSpec({ agent: 'fixer' }), context);

    expect(outcome).toMatchObject({ success: true, output: 'build is still there' });
    expect(readFileSync(join(fixture.workspace, 'build', 'keep.txt'), 'utf8')).toBe('kept');
    expect(readFileSync(join(fixture.workspace, 'src', 'a.ts'), 'utf8')).toBe('export const a = 1;\n');
    expect(readFileSync(join(fixture.workspace, 'notes', 'plan.md'), 'utf8')).toBe('plan');
    const rmDenied =
      'error: denied by toolApproval.rules.1 (deny run_shell(rm:*)): deleting is for humans. The call did not run.';
    expect(Object.values(openai.toolResults(fixture.server.requests[1]!))).toEqual([
      expect.stringMatching(/^exit status 0\n--- stdout ---\nkeep\.txt\n/),
      rmDenied,
      rmDenied, // the allow rule takes no chained command, and the deny rule sees its `rm` piece
      'error: denied by toolApproval.default (deny): no rule before it allows write_file(src/a.ts). The call did not run.',
      'wrote 4 bytes to notes/plan.md',
    ]);
    expect(context.beats).toEqual([
      { round: 1, maxRounds: 10, inputTokens: 10, outputTokens: 5 },
      { round: 2, maxRounds: 10, inputTokens: 20, outputTokens: 10, deniedToolCalls: 3 },
    ]);
  });

  test('an MCP tool denied by server.tool never reaches its server; the rest of the server is allowed', async () => {
    const countFile = join(fixture.workspace, 'calls.log');
    const executor = await executorFor(
      {
        mcpServers: { counter: { ...mcpStdioCommand(), env: ['MCP_COUNT_FILE'] } },
        agents: {
          tracker: {
            systemPrompt: 'You track.',
            tools: [],
            mcpServers: ['counter'],
            toolApproval: { default: 'deny', rules: ['deny counter.count', 'allow counter.*'] },
          },
        },
      },
      { MCP_COUNT_FILE: countFile },
    );
    fixture.server.reply(
      openai.toolCalls([
        { name: 'counter__count', input: { label: 'denied' } },
        { name: 'counter__env_names', input: {} },
      ]),
      openai.text('done'),
    );

    const outcome = await executor.executeStep(llmSpec({ agent: 'tracker' }), stepContext());

    expect(outcome.success).toBe(true);
    expect(countedCalls(countFile)).toEqual([]);
    expect(Object.values(openai.toolResults(fixture.server.requests[1]!))).toEqual([
      'error: denied by toolApproval.rules.0 (deny counter.count): no rule before it allows counter__count. The call did not run.',
      expect.stringContaining('MCP_COUNT_FILE'),
    ]);
  });
});
