/** The workspace sandbox and the tools built on it, called directly. */
import { existsSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { READ_ONLY_TOOLS, TOOL_NAMES, type ToolName, createToolbox } from '../../src/executors/llm/tools';
import { PathEscapeError, Workspace } from '../../src/executors/llm/workspace';
import { SECRET_TEXT, makeWorkspace } from '../support/llm-harness';

let root: string;
let outside: string;
let workspace: Workspace;

beforeEach(async () => {
  ({ root, outside } = makeWorkspace());
  workspace = await Workspace.open(root);
});
afterEach(() => rmSync(dirname(root), { recursive: true, force: true }));

describe('Workspace.resolve', () => {
  test('paths inside resolve, including new files and links that stay inside', async () => {
    symlinkSync(join(root, 'src'), join(root, 'src-link'));
    await expect(workspace.resolve('src/a.ts')).resolves.toBe(join(workspace.root, 'src/a.ts'));
    await expect(workspace.resolve('.')).resolves.toBe(workspace.root);
    await expect(workspace.resolve('new/dir/file.txt')).resolves.toBe(
      join(workspace.root, 'new/dir/file.txt'),
    );
    await expect(workspace.resolve('src-link/a.ts')).resolves.toBe(join(workspace.root, 'src-link/a.ts'));
  });

  test.each([
    ['..', /"\.\." may not appear/],
    ['../outside/secret.txt', /"\.\." may not appear/],
    ['src/../../outside', /"\.\." may not appear/],
    ['src\\..\\..\\x', /"\.\." may not appear/],
    ['/etc/passwd', /absolute path/],
    ['C:/Windows', /absolute path/],
    ['a\0b', /NUL byte/],
    ['link-out', /leads outside the workspace/],
  ])('%j is refused', async (path, reason) => {
    await expect(workspace.resolve(path)).rejects.toThrow(PathEscapeError);
    await expect(workspace.resolve(path)).rejects.toThrow(reason);
  });

  test('a linked directory that leads out is refused, and so is anything beneath it', async () => {
    symlinkSync(outside, join(root, 'dir-out'));
    await expect(workspace.resolve('dir-out')).rejects.toThrow(/leads outside/);
    await expect(workspace.resolve('dir-out/secret.txt')).rejects.toThrow(/leads outside/);
    await expect(workspace.resolve('dir-out/new-file.txt')).rejects.toThrow(/leads outside/);
  });

  test('a dangling link is refused: writing through it would create its target anywhere', async () => {
    symlinkSync(join(outside, 'not-yet.txt'), join(root, 'dangling'));
    await expect(workspace.resolve('dangling')).rejects.toThrow(/dangling symbolic link/);
  });
});

describe('tools', () => {
  const call = async (name: string, input: unknown, tools: readonly ToolName[] = TOOL_NAMES) => {
    const result = await createToolbox(workspace, tools).run(
      { id: 'c1', name, input },
      new AbortController().signal,
    );
    return result.content;
  };

  test('read_file reads, pages long files, and reports failures as errors for the model', async () => {
    expect(await call('read_file', { path: 'src/a.ts' })).toBe('export const a = 1;\n');
    expect(await call('read_file', { path: 'src/a.ts', startLine: 2 })).toBe('');
    expect(await call('read_file', { path: 'missing.ts' })).toBe('error: no such file or directory');
    expect(await call('read_file', { path: 'src' })).toBe('error: src is a directory; use list_directory');
    expect(await call('read_file', { file: 'src/a.ts' })).toMatch(
      /^error: invalid arguments: path: .*; .*"file"/,
    );
    expect(await call('read_file', { path: 'link-out' })).toMatch(/^error: path "link-out" refused/);
  });

  test('list_directory marks directories and links; walks never follow links out', async () => {
    expect(await call('list_directory', {})).toBe('README.md\nlink-out@\nsrc/');
    symlinkSync(outside, join(root, 'dir-out'));
    expect(await call('glob', { pattern: '**/*' })).toBe('README.md\nsrc/a.ts\nsrc/b.ts');
    expect(await call('search_text', { pattern: SECRET_TEXT })).toBe('no matches');
  });

  test('search_text finds lines as path:line, literally unless regex is set; glob filters files', async () => {
    expect(await call('search_text', { pattern: 'TODO' })).toBe(
      'src/b.ts:1: export const b = 2; // TODO: remove',
    );
    expect(await call('search_text', { pattern: 'const [ab]' })).toBe('no matches');
    expect(await call('search_text', { pattern: 'const [ab]', regex: true, glob: '*.ts' })).toBe(
      'src/a.ts:1: export const a = 1;\nsrc/b.ts:1: export const b = 2; // TODO: remove',
    );
    expect(await call('search_text', { pattern: '(', regex: true })).toMatch(
      /^error: invalid regular expression/,
    );
    expect(await call('glob', { pattern: 'src/*.ts' })).toBe('src/a.ts\nsrc/b.ts');
    expect(await call('glob', { pattern: '*.py' })).toBe('no files match');
  });

  test('write_file and run_shell are offered only when the profile grants them', async () => {
    const readOnly = createToolbox(workspace, READ_ONLY_TOOLS);
    expect(readOnly.specs.map((s) => s.name)).toEqual(['read_file', 'list_directory', 'search_text', 'glob']);
    expect(await call('write_file', { path: 'x.txt', content: 'x' }, READ_ONLY_TOOLS)).toBe(
      'error: no tool "write_file" here; available: read_file, list_directory, search_text, glob',
    );
    expect(existsSync(join(root, 'x.txt'))).toBe(false);

    expect(await call('write_file', { path: 'out/x.txt', content: 'hi' })).toBe('wrote 2 bytes to out/x.txt');
    expect(readFileSync(join(root, 'out/x.txt'), 'utf8')).toBe('hi');
    expect(await call('write_file', { path: '../escape.txt', content: 'x' })).toMatch(/refused/);
    expect(await call('run_shell', { command: 'pwd; exit 3' })).toBe(
      `exit status 3\n--- stdout ---\n${workspace.root}\n\n--- stderr (tail) ---\n`,
    );
  });

  test('tool parameters are JSON Schema objects the providers accept', () => {
    const [readFile] = createToolbox(workspace, ['read_file']).specs;
    expect(readFile!.parameters).toMatchObject({
      type: 'object',
      properties: { path: { type: 'string' } },
      required: ['path'],
      additionalProperties: false,
    });
    expect(readFile!.parameters).not.toHaveProperty('$schema');
  });
});
