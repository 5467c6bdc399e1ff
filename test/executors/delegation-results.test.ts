/** What a delegating agent reads back: a3s-code's cut of long outputs, and its rule for a call's success. */
import type { StepOutcome } from '../../src/contracts';
import { compactForParent, delegationToolResult } from '../../src/executors/llm/delegation-results';

const marker = (omitted: number) => `\n\n[${omitted} bytes omitted from delegated task output]\n\n`;

describe('compactForParent', () => {
  test('up to 4000 UTF-8 bytes are kept whole, however many characters that is', () => {
    const text = 'é'.repeat(2000); // 4000 bytes, 2000 characters
    expect(compactForParent(text)).toEqual({ text, bytes: 4000, truncated: false });
  });

  test('beyond, the first 3000 and last 800 bytes stay, around the count of bytes left out', () => {
    expect(compactForParent(`${'h'.repeat(3000)}${'x'.repeat(201)}${'t'.repeat(800)}`)).toEqual({
      text: `${'h'.repeat(3000)}${marker(201)}${'t'.repeat(800)}`,
      bytes: 4001,
      truncated: true,
    });
  });

  test('a cut inside a character moves to its edge: the head gets shorter, the tail starts later', () => {
    // Four-byte characters from byte 1: byte 3000 is inside one, byte 3201 (4001 - 800) starts one.
    const text = `a${'😀'.repeat(1000)}`;
    const cut = compactForParent(text);
    expect(cut.text).toBe(`a${'😀'.repeat(749)}${marker(3201 - 2997)}${'😀'.repeat(200)}`);
    expect(cut.text).not.toContain('\uFFFD');
    // A tail cut inside a character starts at the next one.
    const tailCut = compactForParent(`${'😀'.repeat(1000)}ab`); // 4002 bytes: byte 3202 is inside a character
    expect(tailCut.text).toBe(`${'😀'.repeat(750)}${marker(3204 - 3000)}${'😀'.repeat(199)}ab`);
  });
});

describe('delegationToolResult', () => {
  const outcome = (n: number, success: boolean): StepOutcome => ({
    taskId: `p/task-1-${n}`,
    agent: 'explore',
    sessionId: `task-run-p/task-1-${n}`,
    output: success ? 'found it' : 'gave up',
    success,
    ...(success ? {} : { error: 'cancelled by user' }),
  });
  const parallel = (allowPartialFailure: boolean, ...successes: boolean[]) =>
    delegationToolResult(
      { round: 1, callId: 'c1', tool: 'parallel_task', tasks: successes.length, allowPartialFailure },
      { callId: 'c1', outcomes: successes.map((success, i) => outcome(i + 1, success)) },
    );

  test('parallel_task succeeds when every task did, or, allowing partial failure, when one did', () => {
    expect(parallel(false, true, true)).toMatchObject({ callId: 'c1', isError: false });
    expect(parallel(false, true, false).isError).toBe(true);
    expect(parallel(true, true, false).isError).toBe(false);
    expect(parallel(true, false, false).isError).toBe(true);
  });

  test('a tolerated partial failure says so under the tasks; a failed task shows its error', () => {
    expect(parallel(true, true, false).content).toBe(
      'Executed 2 tasks concurrently:\n\n' +
        '--- Task 1 (explore) [OK] ---\nTask completed: p/task-1-1\nAgent: explore\nSession: task-run-p/task-1-1\nTask ID: p/task-1-1\nOutput:\nfound it\n\n' +
        '--- Task 2 (explore) [ERR] ---\nTask failed: p/task-1-2\nAgent: explore\nSession: task-run-p/task-1-2\nTask ID: p/task-1-2\nError: cancelled by user\nOutput:\ngave up\n\n' +
        'Partial failure tolerated: 1 succeeded, 1 failed.\n',
    );
    expect(parallel(true, false, false).content).not.toContain('Partial failure tolerated');
  });

  test('task reads as its one task and fails when it did', () => {
    const failed = delegationToolResult(
      { round: 2, callId: 'c2', tool: 'task', tasks: 1, allowPartialFailure: false },
      { callId: 'c2', outcomes: [outcome(1, false)] },
    );
    expect(failed).toEqual({
      callId: 'c2',
      content:
        'Task failed: p/task-1-1\nAgent: explore\nSession: task-run-p/task-1-1\nTask ID: p/task-1-1\nError: cancelled by user\nOutput:\ngave up',
      isError: true,
    });
  });
});
