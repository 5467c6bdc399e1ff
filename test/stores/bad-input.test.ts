import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../src/config/data-file';
import { resolveWorkerConfig } from '../../src/config/worker-config';
import { resolveConnection } from '../../src/connection/settings';
import { createExecutor } from '../../src/executors/registry';
import { ScriptExecutor } from '../../src/executors/script';
import { createStore } from '../../src/stores/registry';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tao-bad-input-'));
});
afterEach(() => {
  chmodSync(dir, 0o700);
  rmSync(dir, { recursive: true, force: true });
});

const oneLine = (message: string) => expect(message).not.toContain('\n');

describe('bad input gets one clear line naming the problem and the fix', () => {
  test('a store directory that cannot be written', async () => {
    // A regular file where the folder should be fails for every user, root included.
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'precious');
    const failure = (await createStore(`file:${file}`).catch((e: Error) => e)) as Error;
    expect(failure.message).toMatch(
      /^file checkpoint store cannot write to .*not-a-dir\/v1\/workflow_checkpoints \(ENOTDIR\); fix its permissions or choose another folder with --store file:<dir>$/,
    );
    oneLine(failure.message);

    if (process.getuid?.() !== 0) {
      // Permission bits only bind non-root users.
      const locked = join(dir, 'locked');
      await createStore(`file:${locked}`);
      chmodSync(locked, 0o500);
      chmodSync(join(locked, 'v1', 'workflow_checkpoints'), 0o500);
      await expect(createStore(`file:${locked}`)).rejects.toThrow(/cannot write to .*\(EACCES\)/);
    }
  });

  test('unknown store and executor references', async () => {
    await expect(createStore('s3://bucket')).rejects.toThrow(
      new InputError('unknown store "s3://bucket"; use memory, file:<dir> or postgres://user@host/db'),
    );
    await expect(createExecutor('nope')).rejects.toBeInstanceOf(InputError);
    await expect(createExecutor('nope')).rejects.toThrow(/unknown executor "nope"; use script/);
  });

  test('a malformed or invalid script file names the file and the field', async () => {
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'tasks: [unclosed');
    await expect(ScriptExecutor.fromFile(broken)).rejects.toThrow(new RegExp(`^${broken}: `));
    const invalid = join(dir, 'invalid.yaml');
    writeFileSync(invalid, 'tasks:\n  a: { delayMs: -5 }\n');
    const failure = (await ScriptExecutor.fromFile(invalid).catch((e: Error) => e)) as Error;
    expect(failure.message).toContain('tasks.a.delayMs');
    oneLine(failure.message);
    await expect(ScriptExecutor.fromFile(join(dir, 'missing.yaml'))).rejects.toThrow(
      /cannot read \(ENOENT\); check the path/,
    );
  });

  test('bad worker flags and environment name the flag and the variable', () => {
    expect(() => resolveWorkerConfig({ concurrency: 'many' })).toThrow(
      /^invalid --concurrency \(or TAO_CONCURRENCY\): /,
    );
    expect(() => resolveWorkerConfig({}, { TAO_STALL_TIMEOUT_MS: '5' })).toThrow(
      /^invalid --stall-timeout-ms \(or TAO_STALL_TIMEOUT_MS\): /,
    );
    expect(resolveWorkerConfig({ stallTimeoutMs: '120000' }).stallTimeoutMs).toBe(120_000);
    expect(() => resolveWorkerConfig({}, { TAO_TRACE_CONTENT: 'yes' })).toThrow(
      /^invalid --trace-content \(or TAO_TRACE_CONTENT\): /,
    );
    expect(resolveWorkerConfig({}, {}).traceContent).toBe(false);
    expect(resolveWorkerConfig({}, { TAO_TRACE_CONTENT: 'true' }).traceContent).toBe(true);
    expect(resolveWorkerConfig({ traceContent: true }, { TAO_TRACE_CONTENT: 'false' }).traceContent).toBe(
      true,
    );
    expect(() => resolveConnection({}, { TEMPORAL_ADDRESS: 'http://localhost' })).toThrow(
      'invalid --address (or TEMPORAL_ADDRESS, or the profile\'s address) "http://localhost": must be host:port, e.g. 127.0.0.1:7233',
    );
  });
});
