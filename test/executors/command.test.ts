/** The command executor against real processes. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandExecutor, type CommandFile } from '../../src/executors/command';
import { NonRetryableStepError } from '../../src/executors/executor';
import { createExecutor } from '../../src/executors/registry';
import { llmSpec, stepContext } from '../support/llm-harness';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'tao-command-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const run = (file: CommandFile, prompt = 'hello', context = stepContext()) =>
  new CommandExecutor(file).executeStep(llmSpec({ prompt }), context);
const inDir = (argv: string[], extra: CommandFile['default'] = {}): CommandFile => ({
  default: { argv, cwd: dir, ...extra },
});

/** A prompt full of shell syntax: any interpolation would run it or mangle it. */
const HOSTILE = `it's "quoted" $(touch pwned) \`touch pwned2\`; rm -rf nothing && echo $HOME | cat > pwned3 *`;

describe('command executor', () => {
  test('the prompt reaches the program as one argument, with no shell interpolation', async () => {
    const outcome = await run(inDir(['printf', '%s', '{{prompt}}']), HOSTILE);
    expect(outcome).toMatchObject({ success: true, output: HOSTILE, sessionId: 'task-run-t1' });
    expect(['pwned', 'pwned2', 'pwned3'].filter((f) => existsSync(join(dir, f)))).toEqual([]);
  });

  test('the prompt can go on stdin instead', async () => {
    const outcome = await run(inDir(['cat'], { stdin: 'Task: {{prompt}}' }), HOSTILE);
    expect(outcome).toMatchObject({ success: true, output: `Task: ${HOSTILE}` });
  });

  test('runs in its working directory with only allowed environment variables (plus TAO_*)', async () => {
    process.env.TAO_TEST_SECRET = 'hunter2';
    process.env.TAO_TEST_ALLOWED = 'visible';
    try {
      const script =
        'printf "%s|%s|%s|%s|%s" "$(pwd)" "$TAO_TEST_SECRET" "$TAO_TEST_ALLOWED" "$TAO_TASK_ID" "$1"';
      const outcome = await run(
        inDir(['sh', '-c', script, 'sh', '{{prompt}}'], { env: ['TAO_TEST_ALLOWED'] }),
      );
      expect(outcome.output).toBe(`${dir}||visible|t1|hello`);
    } finally {
      delete process.env.TAO_TEST_SECRET;
      delete process.env.TAO_TEST_ALLOWED;
    }
  });

  test("one final line ending is dropped, as a shell's $(…) drops it; only one, \\n or \\r\\n", async () => {
    const printed = async (text: string) => (await run(inDir(['printf', '%s', '{{prompt}}']), text)).output;
    expect(await printed('out:pa\n')).toBe('out:pa');
    expect(await printed('out:pa\r\n')).toBe('out:pa');
    expect(await printed('out:pa\n\n')).toBe('out:pa\n');
    expect(await printed('out:pa\r\n\r\n')).toBe('out:pa\r\n');
    expect(await printed('out:pa \n\r')).toBe('out:pa \n\r');
    expect(await printed('\n')).toBe('');
  });

  test('a program that writes only to stderr still shows progress, which keeps its stall watchdog quiet', async () => {
    const context = stepContext();
    let progress = 0;
    const outcome = await run(
      inDir(['sh', '-c', 'echo "thinking" >&2; echo "still thinking" >&2', 'sh', '{{prompt}}']),
      'hello',
      {
        ...context,
        progress: () => progress++,
      },
    );
    expect(outcome).toMatchObject({ success: true, output: '' });
    expect(progress).toBeGreaterThan(0);
    expect(context.outputs).toEqual([]);
  });

  test("an agent's stall limit is its own, else the default's, and no part of the cache identity", () => {
    const file: CommandFile = {
      default: { argv: ['claude', '-p', '{{prompt}}'], stallTimeoutMs: 1_800_000 },
      agents: { explore: { argv: ['codex', 'exec', '{{prompt}}'], stallTimeoutMs: 60_000 } },
    };
    const executor = new CommandExecutor(file);
    expect(executor.stallTimeoutMs(llmSpec())).toBe(60_000);
    expect(executor.stallTimeoutMs(llmSpec({ agent: 'review' }))).toBe(1_800_000);
    expect(JSON.stringify(executor.cacheIdentity(llmSpec()))).not.toContain('stall');
  });

  test('a failing exit status is success: false, with the stderr tail as the error', async () => {
    const script = 'echo partial; echo "noise" >&2; echo "fatal: bad credentials" >&2; exit 3';
    const outcome = await run(inDir(['sh', '-c', script, 'sh', '{{prompt}}']));
    expect(outcome).toMatchObject({
      success: false,
      output: 'partial',
      error: 'sh exited with status 3: noise\nfatal: bad credentials',
    });
  });

  test('a timeout kills the whole process tree', async () => {
    // The program leaves a grandchild running and records its pid. The grandchild would end only
    // once a file `release` appears, which nothing creates: the tree cannot end on its own, so an
    // outcome at all means the timeout ended it (an executor that waited for it would never answer).
    const script = '(until [ -e release ]; do sleep 0.05; done) & echo $! > child.pid; wait';
    const outcome = await run(inDir(['sh', '-c', script, 'sh', '{{prompt}}'], { timeoutMs: 500 }));
    expect(outcome).toMatchObject({ success: false, error: 'timed out after 500 ms; process tree killed' });
    expect(existsSync(join(dir, 'release'))).toBe(false);
    await expectDead(Number(readFileSync(join(dir, 'child.pid'), 'utf8')));
  });

  test('cancellation kills the whole process tree too', async () => {
    const context = stepContext();
    const script = 'sleep 30 & echo $! > child.pid; wait';
    const running = run(inDir(['sh', '-c', script, 'sh', '{{prompt}}']), 'hello', context);
    const pidFile = join(dir, 'child.pid');
    while (!existsSync(pidFile) || !readFileSync(pidFile, 'utf8').trim()) await sleep(20);
    context.controller.abort(new Error('cancelled'));
    await expect(running).rejects.toThrow('cancelled');
    await expectDead(Number(readFileSync(pidFile, 'utf8')));
  });

  test('stdout is published as it arrives, for live views', async () => {
    const context = stepContext();
    // The test marks each line seen once it has been published; the program prints the next line
    // only after that mark, so it cannot finish unless each line was published while it ran
    // (it gives up, with status 7, after 20 s without one).
    context.output = (text) => {
      context.outputs.push(text);
      const line = /line (\d)\n$/.exec(text)?.[1];
      if (line) writeFileSync(join(dir, `seen-${line}`), '');
    };
    const script =
      'for i in 1 2 3; do echo "line $i"; n=0; until [ -e seen-$i ]; do [ $n -ge 1000 ] && exit 7; n=$((n+1)); sleep 0.02; done; done';
    const outcome = await run(inDir(['sh', '-c', script, 'sh', '{{prompt}}']), 'hello', context);
    expect(outcome).toMatchObject({ success: true, output: 'line 1\nline 2\nline 3' });
    expect(context.outputs).toEqual(['line 1\n', 'line 1\nline 2\n', 'line 1\nline 2\nline 3\n']);
  });

  test('huge output is capped, and the program still runs to completion', async () => {
    const script = 'head -c 20000000 /dev/zero | tr "\\0" x; echo done > finished';
    const outcome = await run(inDir(['sh', '-c', script, 'sh', '{{prompt}}'], { maxOutputBytes: 1024 }));
    expect(outcome.success).toBe(true);
    expect(outcome.output).toBe(
      `${'x'.repeat(1024)}\n[output truncated: 19998976 bytes over the 1024-byte cap]`,
    );
    expect(existsSync(join(dir, 'finished'))).toBe(true);
  });

  test('stdout is checked against outputSchema when the step has one', async () => {
    const schema = { type: 'object', required: ['ok'] };
    const executor = new CommandExecutor(inDir(['printf', '%s', '{{prompt}}']));
    await expect(
      executor.executeStep(llmSpec({ prompt: '{"ok": true}', outputSchema: schema }), stepContext()),
    ).resolves.toMatchObject({ success: true, structured: { ok: true } });
    await expect(
      executor.executeStep(llmSpec({ prompt: '{"no": 1}', outputSchema: schema }), stepContext()),
    ).resolves.toMatchObject({
      success: false,
      error: expect.stringMatching(/must have required property 'ok'/),
    });
  });

  test('a missing program is not retryable and says what to fix', async () => {
    const failure = await run(inDir(['no-such-agent-cli', '{{prompt}}'])).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(NonRetryableStepError);
    expect((failure as Error).message).toMatch(/^cannot run no-such-agent-cli in .* \(ENOENT\): install it/);
  });

  test('per-agent commands override the default; agents without one use it', async () => {
    const executor = new CommandExecutor({
      default: { argv: ['printf', 'default:%s', '{{prompt}}'] },
      agents: { review: { argv: ['printf', 'review(%s):%s', '{{agent}}', '{{prompt}}'] } },
    });
    const context = stepContext();
    await expect(executor.executeStep(llmSpec({ agent: 'explore' }), context)).resolves.toMatchObject({
      output: 'default:What does src/a.ts export?',
    });
    await expect(
      executor.executeStep(llmSpec({ agent: 'review', prompt: 'p' }), context),
    ).resolves.toMatchObject({ output: 'review(review):p' });
  });

  test('config files are checked when the worker starts', async () => {
    const file = join(dir, 'agents.yaml');
    writeFileSync(file, 'default:\n  argv: [claude, -p]\n');
    await expect(createExecutor(`command:${file}`)).rejects.toThrow(
      `${file}: default: the prompt is passed nowhere; put {{prompt}} in argv or set stdin`,
    );
    writeFileSync(file, 'default:\n  argv: [claude, -p, "{{prompt}}"]\n  shell: true\n');
    await expect(createExecutor(`command:${file}`)).rejects.toThrow(
      `${file}: invalid default: Unrecognized key(s) in object: 'shell'`,
    );
    await expect(createExecutor('command')).rejects.toThrow('command:<file>');
    writeFileSync(file, 'concurrency: 3\ndefault:\n  argv: [claude, -p, "{{prompt}}"]\n');
    expect((await createExecutor(`command:${file}`)).concurrencyHint()).toBe(3);
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Dead, or a zombie nobody has reaped yet (it no longer runs either). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function expectDead(pid: number): Promise<void> {
  expect(pid).toBeGreaterThan(0);
  for (let i = 0; i < 50 && isRunning(pid); i++) await sleep(100);
  expect(isRunning(pid)).toBe(false);
}
