/**
 * An MCP call is recorded for resume like a built-in tool call, through
 * Temporal with real processes: a worker process runs an llm step whose agent
 * calls the test MCP server's counting tool over stdio; once the call's result
 * is on the server (in the step's heartbeat details) the worker is SIGKILLed
 * while the next model turn is in flight. The MCP server dies with the worker,
 * and the replacement worker's attempt goes on without calling the tool again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { type Payload, defaultPayloadConverter } from '@temporalio/common';
import type { StepOutcome } from '../../src/contracts';
import { eventually } from '../support/gate-executor';
import { PROTOCOLS } from '../support/llm-harness';
import { alive, countedCalls, writeCounterAgentConfig } from '../support/mcp-harness';
import { closeDevClient, devClient } from '../support/temporal';
import { startLlmStepOnProcess, stopWorkerProcesses } from '../support/worker-process';

afterAll(async () => {
  await stopWorkerProcesses();
  await closeDevClient();
});

const openai = PROTOCOLS[0]!;

test('a retry after SIGKILL does not repeat an MCP call whose result was recorded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tao-mcp-resume-'));
  const countFile = join(dir, 'calls.log');
  let killed = false;
  const server = await openai.start((request) => {
    const results = Object.values(openai.toolResults(request));
    if (results.length === 0) return openai.toolCalls([{ name: 'counter__count', input: { label: 'once' } }]);
    if (!killed) return { hang: true };
    return openai.text(`recorded: ${results[0]}`);
  });
  try {
    const configFile = writeCounterAgentConfig(
      dir,
      { type: 'openai', baseUrl: openai.baseUrl(server) },
      'tracker',
      { systemPrompt: 'You count.', tools: [] },
    );
    const { first, handle, startReplacement } = await startLlmStepOnProcess({
      client: await devClient(),
      dir,
      configFile,
      spec: { taskId: 'count', agent: 'tracker', prompt: 'count once' },
      // The worker's; the config passes it on to the server by name.
      env: { MCP_COUNT_FILE: countFile },
    });

    const recorded = await eventually(async () => {
      const result = await recordedToolResult(handle);
      return result && server.requests.length === 2 ? result : undefined;
    });
    expect(recorded).toMatch(/^count=1 label=once pid=\d+$/);
    const mcpPid = Number(/pid=(\d+)/.exec(recorded)![1]);
    expect(alive(mcpPid)).toBe(true);

    await first.kill();
    killed = true;
    // The MCP server the worker started does not outlive it.
    await eventually(async () => (!alive(mcpPid) ? true : undefined), 5_000);

    await startReplacement();
    const [outcome] = (await handle.result()) as StepOutcome[];
    expect(outcome).toMatchObject({ success: true, output: `recorded: ${recorded}` });
    expect(countedCalls(countFile)).toEqual(['once']);
    expect(server.requests).toHaveLength(3); // the call, the turn in flight at the kill, its retry
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The last tool result in the running step's saved conversation, as the server holds it. */
async function recordedToolResult(handle: WorkflowHandle): Promise<string | undefined> {
  const { raw } = await handle.describe();
  const payload = raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0];
  if (!payload) return undefined;
  const details = defaultPayloadConverter.fromPayload<{
    resume?: { messages: { role: string; results?: { content: string }[] }[] };
  }>(payload as Payload);
  const last = details.resume?.messages.at(-1);
  return last?.role === 'tool' ? last.results?.[0]?.content : undefined;
}
