/**
 * A scripted agent that reads workspace files, some each turn, then answers:
 * its conversation grows by what it read every round, as a real tool loop's
 * does. For the prompt-cache tests and the benchmark, on the fake Anthropic
 * server billing by its prompt cache.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LlmConfigFile } from '../../src/executors/llm/config';
import { anthropicText, anthropicToolUse } from './fake-anthropic';
import type { FakeReply } from './fake-http';

export const READER_SPEC = {
  taskId: 'reader',
  agent: 'reader',
  prompt: 'Read the files you are given, then sum up.',
};

/** The `reader` agent, whose system prompt is `systemChars` long (a long one fills the cacheable prefix alone). */
export const readerConfig = (systemChars = 0): LlmConfigFile => ({
  agents: {
    reader: {
      systemPrompt: `You read source files and sum them up.${' Read carefully.'.repeat(Math.ceil(systemChars / 16))}`,
      tools: ['read_file'],
      maxSteps: 20,
    },
  },
});

/** `count` source files of about `chars` characters each in `root`; their paths. */
export function writeSourceFiles(root: string, count: number, chars: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const path = `file-${i}.ts`;
    const line = (n: number) => `export const value${i}_${n} = ${n * 7919 + i};\n`;
    const lines = Array.from({ length: Math.ceil(chars / line(0).length) }, (_, n) => line(n));
    writeFileSync(join(root, path), lines.join(''));
    return path;
  });
}

/** One turn for each group of `paths` (each group read in parallel calls), then the answer; 20 output tokens a turn. */
export const readingTurns = (groups: string[][]): FakeReply[] => [
  ...groups.map((paths) =>
    anthropicToolUse(
      paths.map((path) => ({ name: 'read_file', input: { path } })),
      [0, 20],
    ),
  ),
  anthropicText(`read ${groups.flat().length} files`, [0, 20]),
];
