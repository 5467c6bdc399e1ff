/**
 * A lead agent that delegates three parts with `parallel_task` and merges
 * their findings, on a fake provider: for the delegation crash tests
 * (delegation-crash.test.ts, chaos-runs.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FakeReply, FakeRequest } from './fake-http';
import type { ProtocolHarness } from './llm-harness';

export const LEAD_SYSTEM = 'You lead. Split the work into parts and delegate them.';
export const PARTS = [1, 2, 3];
/** A clean run: the lead's two turns and one request per task. */
export const CLEAN_RUN_REQUESTS = 2 + PARTS.length;

export const isLead = (protocol: ProtocolHarness, request: FakeRequest) =>
  protocol.systemPrompt(request).includes(LEAD_SYSTEM);

/** The lead's answer to `request`: `parallel_task` with every part on turn 1, the merged results on turn 2. */
export function leadAnswer(
  protocol: ProtocolHarness,
  request: FakeRequest,
): { turn: string; reply: FakeReply } {
  const results = Object.values(protocol.toolResults(request));
  if (results.length) return { turn: 'lead:2', reply: protocol.text(`merged: ${JSON.stringify(results)}`) };
  const tasks = PARTS.map((n) => ({ agent: 'worker', description: `part ${n}`, prompt: `do part ${n}` }));
  return { turn: 'lead:1', reply: protocol.toolCalls([{ name: 'parallel_task', input: { tasks } }]) };
}

/** The first user message: the step's prompt. */
function promptOf(request: FakeRequest): string {
  const first = (request.body.messages as { role: string; content: unknown }[]).find(
    (m) => m.role === 'user',
  );
  const content = first?.content;
  if (typeof content === 'string') return content;
  return ((content ?? []) as { type: string; text?: string }[])
    .filter((block) => block.type === 'text')
    .map((block) => block.text)
    .join('');
}

/** Which part a worker's request is about. */
export const partOf = (request: FakeRequest) => /do part (\d)/.exec(promptOf(request))?.[1];

/** The llm config (in `dir`, its workspace) of the lead and its `worker` agent; its path. */
export function writeDelegationConfig(dir: string, protocol: ProtocolHarness, baseUrl: string): string {
  const configFile = join(dir, 'llm.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      provider: 'fake',
      model: 'fake-model',
      workspace: dir,
      concurrency: 4,
      providers: { fake: { type: protocol.type, baseUrl } },
      agents: {
        lead: { systemPrompt: LEAD_SYSTEM, tools: [], delegation: { agents: ['worker'] } },
        worker: { description: 'Does one part.', systemPrompt: 'You do one part.', tools: [] },
      },
    }),
  );
  return configFile;
}
