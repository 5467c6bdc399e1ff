/**
 * Recorded histories (`test/histories/*.json`) are append-only: they are the
 * runs of released code that today's code must still replay, so a commit may
 * add one but never change, delete or rename one. A commit that did would make
 * the replay test pass against a history the released code never wrote.
 *
 * The one exception is a new major version, which may replace the whole set in
 * one commit whose message says `[histories: new major]`.
 *
 * This walks `git log` of test/histories and fails naming each commit and file
 * that broke the rule. CI clones the repository with its full history; a
 * shallow clone, or no git, fails here with what to do rather than passing
 * unchecked. (The rule lives here, not in test/histories/record.ts's header,
 * while that directory is being rewritten; record.ts should point here.)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useTempDir } from '../support/temp-dir';

const MARKER = '[histories: new major]';

/**
 * The 1.0 cut re-recorded and deleted the pre-1.0 histories, as a new major may,
 * before the marker existed; histories carried no promise before it, so the walk
 * starts after it.
 */
const BASELINE = '37750e682dbd7e4cfb3008f11d00d927849c5f80';

/**
 * Commits after 1.0 that recorded a history again before this rule existed.
 * Exactly these, so no later commit can join them.
 */
const PREDATE_THE_RULE = new Set([
  // Step cache: parallel-cache.json re-recorded for the new scenario script.
  'd7bf7836d3b32dc8127f7fe3031610e97eec1b16',
  // withRunSlot: parallel-delegation-slots.json recorded again, twice.
  '2b49a21627d71de3d2030c039b1555841c03d419',
  '5864ef8a6d9b1623fa599daf42ea2ade7bbf744b',
]);

function git(repo: string, args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const { stderr, message } = error as { stderr?: string; message: string };
    throw new Error(
      `histories append-only check needs git and the repository's history: git ${args.join(' ')} failed (${(stderr || message).trim()})`,
    );
  }
}

/**
 * Each commit in `range` that modified, deleted or renamed a history, as
 * `<hash> <status> <file>`, leaving out commits carrying the marker and `allowed`.
 */
export function historyViolations(repo: string, range: string, allowed: ReadonlySet<string>): string[] {
  if (git(repo, ['rev-parse', '--is-shallow-repository']).trim() !== 'false') {
    throw new Error(
      'histories append-only check: this clone is shallow, so the commits that touched test/histories cannot be read; clone with full history (git fetch --unshallow)',
    );
  }
  const start = range.split('..')[0]!;
  if (range.includes('..') && !isAncestor(repo, start, 'HEAD')) {
    throw new Error(
      `histories append-only check: ${start.slice(0, 10)}, where the check starts, is not in the history of HEAD in this clone; clone with full history`,
    );
  }
  // Merges are left out: the commits they bring in are walked themselves.
  const log = git(repo, [
    'log',
    '--no-merges',
    '--full-history',
    '-M',
    '--name-status',
    '--format=%x1e%H%x1f%B%x1f',
    range,
    '--',
    'test/histories',
  ]);
  const violations: string[] = [];
  for (const record of log.split('\x1e').slice(1)) {
    const [hash, message, files] = record.split('\x1f') as [string, string, string];
    if (message.includes(MARKER) || allowed.has(hash)) continue;
    for (const line of files.split('\n').filter(Boolean)) {
      // `M\tpath`, `D\tpath`, `T\tpath`, `R<score>\told\tnew`; A (added) and C (copied) leave the old file as it was.
      const [status, path] = line.split('\t') as [string, string];
      if (!/^test\/histories\/.*\.json$/.test(path) || /^[AC]/.test(status)) continue;
      violations.push(`${hash.slice(0, 10)} ${status[0]} ${path}`);
    }
  }
  return violations;
}

/** Whether `ancestor` is in the history of `commit`; an unknown commit is not. */
function isAncestor(repo: string, ancestor: string, commit: string): boolean {
  try {
    execFileSync('git', ['merge-base', '--is-ancestor', ancestor, commit], { cwd: repo, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test(`no commit since 1.0 changed, deleted or renamed a recorded history, unless it says ${MARKER}`, () => {
  const repo = git(__dirname, ['rev-parse', '--show-toplevel']).trim();
  const violations = historyViolations(repo, `${BASELINE}..HEAD`, PREDATE_THE_RULE);
  if (violations.length) {
    throw new Error(
      `recorded histories are append-only (record a new one instead; a new major that replaces the set says ${MARKER} in its commit message):\n${violations.join('\n')}`,
    );
  }
});

describe('the check itself, on a repository made for it', () => {
  const dir = useTempDir('tao-histories-rule');
  const commit = (repo: string, message: string) => {
    git(repo, ['add', '-A']);
    git(repo, ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-q', '-m', message]);
    return git(repo, ['rev-parse', 'HEAD']).trim();
  };

  test('adding passes; modifying, deleting or renaming is named by commit and file; the marker and the allow-list excuse a commit', () => {
    const repo = dir();
    git(repo, ['init', '-q']);
    const histories = join(repo, 'test/histories');
    const write = (name: string, text: string) => put(histories, name, text);
    write('a.json', '{"a":1}');
    write('b.json', '{"b":1}');
    write('c.json', '{"c":1}');
    write('scenarios.ts', 'export {};');
    commit(repo, 'record a, b, c');
    write('d.json', '{"d":1}');
    write('scenarios.ts', 'export const changed = true;');
    commit(repo, 'record d; scenarios are code, not histories');
    expect(historyViolations(repo, 'HEAD', new Set())).toEqual([]);

    write('a.json', '{"a":2}');
    const modified = commit(repo, 'record a again');
    unlinkSync(join(histories, 'b.json'));
    const deleted = commit(repo, 'drop b');
    git(repo, ['mv', 'test/histories/c.json', 'test/histories/c2.json']);
    const renamed = commit(repo, 'rename c');
    expect(historyViolations(repo, 'HEAD', new Set())).toEqual([
      `${renamed.slice(0, 10)} R test/histories/c.json`,
      `${deleted.slice(0, 10)} D test/histories/b.json`,
      `${modified.slice(0, 10)} M test/histories/a.json`,
    ]);
    expect(historyViolations(repo, 'HEAD', new Set([modified, deleted, renamed]))).toEqual([]);

    rmSync(histories, { recursive: true });
    put(histories, 'a.json', '{"a":3}');
    commit(repo, `2.0: every history recorded anew ${MARKER}`);
    expect(historyViolations(repo, `${renamed}..HEAD`, new Set())).toEqual([]);
    // A start the history does not hold is refused, not read as an empty range.
    expect(() => historyViolations(repo, `${'0'.repeat(40)}..HEAD`, new Set())).toThrow(
      /is not in the history of HEAD in this clone; clone with full history$/,
    );
  });

  test('a shallow clone fails with what to do instead of passing unchecked', () => {
    const origin = join(dir(), 'origin');
    mkdirSync(origin);
    git(origin, ['init', '-q']);
    put(join(origin, 'test/histories'), 'a.json', '{}');
    commit(origin, 'one');
    put(join(origin, 'test/histories'), 'b.json', '{}');
    commit(origin, 'two');
    const shallow = join(dir(), 'shallow');
    git(dir(), ['clone', '-q', '--depth', '1', `file://${origin}`, shallow]);
    expect(() => historyViolations(shallow, 'HEAD', new Set())).toThrow(
      /this clone is shallow.*clone with full history \(git fetch --unshallow\)/,
    );
  });
});

/** Writes `dir/name`, making `dir` when it is not there. */
function put(dir: string, name: string, text: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), text);
}
