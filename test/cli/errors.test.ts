/** Bad spec files and bad usage: one clear line, the right exit code, and nothing started. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/common';
import { loadSpecFile } from '../../src/client';
import { ScriptExecutor } from '../../src/executors/script';
import { freePort } from '../../src/local/dev-server';
import { examplePath, tao } from '../support/cli';
import { closeDevClient, devClient, devServerAddress, uniqueId } from '../support/temporal';

afterAll(closeDevClient);

const dir = mkdtempSync(join(tmpdir(), 'tao-cli-errors-'));

function specFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const oneLine = (text: string) => {
  const lines = text.trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
};

describe('the examples', () => {
  test('every example spec and the script rules file are valid', async () => {
    const kinds = await Promise.all(
      [
        'parallel.yaml',
        'pipeline.yaml',
        'resumable.yaml',
        'approvals.yaml',
        'loop.yaml',
        'delegate.yaml',
      ].map(async (name) => (await loadSpecFile(examplePath(name))).workflow),
    );
    expect(kinds).toEqual(['parallel', 'pipeline', 'resumable', 'pipeline', 'loop', 'parallel']);
    await expect(ScriptExecutor.fromFile(examplePath('script.yaml'))).resolves.toBeInstanceOf(ScriptExecutor);
  });
});

describe('a bad spec file', () => {
  const pipeline = (stage: string) => `workflow: pipeline\ninput:\n  items: [a]\n  stages:\n    - ${stage}\n`;

  test.each([
    ['malformed YAML', 'workflow: [parallel\n', /not valid YAML or JSON/],
    [
      'an unknown workflow kind',
      'workflow: sequential\ninput: {}\n',
      /: invalid workflow: Invalid discriminator value/,
    ],
    [
      'a missing field',
      pipeline('{ agent: explore, prompt: x }'),
      /: invalid input\.stages\.0\.taskId: Required$/,
    ],
    [
      'a broken template',
      pipeline('{ taskId: t, agent: a, prompt: "{{#prev}}" }'),
      /: invalid input\.stages\.0\.prompt: bad template/,
    ],
    [
      'an unknown field in a step spec (a misspelt maxSteps)',
      '{"workflow":"parallel","input":{"specs":[{"taskId":"a","agent":"x","prompt":"p","maxStep":3}]}}',
      /: invalid input\.specs\.0: Unrecognized key\(s\) in object: 'maxStep'$/,
    ],
    [
      'an unknown key',
      '{"workflow":"parallel","input":{"specs":[]},"extras":1}',
      /Unrecognized key\(s\) in object: 'extras'/,
    ],
  ])('%s: one line naming the file and the field, exit 2, nothing started', async (_, text, message) => {
    const file = specFile(`${uniqueId('spec')}.yaml`, text);
    const workflowId = uniqueId('never-started');
    const run = await tao(['run', file, '--id', workflowId, '--address', devServerAddress(), '--json']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    const line = oneLine(run.stderr);
    expect(line).toContain(file);
    expect(line).toMatch(message);
    const client = await devClient();
    await expect(client.workflow.getHandle(workflowId).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
  });
});

describe('bad usage', () => {
  test('an unknown command or flag gets commander’s error and exit 2', async () => {
    const command = await tao(['frobnicate']);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain("unknown command 'frobnicate'");
    const flag = await tao(['status', 'x', '--adress', '127.0.0.1:7233']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/unknown option '--adress'[\s\S]*Did you mean --address\?/);
  });

  test('tao worker --executor nope: one line saying what to use, before connecting anywhere', async () => {
    const run = await tao(['worker', '--executor', 'nope', '--address', '127.0.0.1:1']);
    expect(run.code).toBe(2);
    expect(oneLine(run.stderr)).toMatch(/^tao: unknown executor "nope"; use script\b/);
  });

  test('an unreachable server: one line naming the address and the fix', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const run = await tao(['status', 'any-id', '--address', address]);
    expect(run.code).toBe(1);
    const line = oneLine(run.stderr);
    expect(line).toContain(`cannot reach Temporal at ${address}`);
    expect(line).toContain('(nothing answers there); start one with `tao dev` or fix --address');
  });
});
