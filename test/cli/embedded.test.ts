/** `tao run --embedded`, what `npm start` runs, and `tao dev`: their own dev server and worker. */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StepOutcome } from '../../src/contracts';
import { freePort, isListening } from '../../src/local/dev-server';
import { examplePath, startTao, stopTaoProcesses, tao } from '../support/cli';
import { eventually } from '../support/gate-executor';

afterAll(stopTaoProcesses);

test('starts a dev server with a SQLite file and a worker, runs the spec, prints results, stops both', async () => {
  const work = mkdtempSync(join(tmpdir(), 'tao-cli-embedded-'));
  const db = join(work, 'history', 'dev.db');
  const run = await tao(
    [
      'run',
      examplePath('parallel.yaml'),
      '--embedded',
      '--executor',
      `script:${examplePath('script.yaml')}`,
      '--store',
      `file:${join(work, 'store')}`,
      '--db',
      db,
      '--ui-port',
      String(await freePort()),
      '--json',
    ],
    { cwd: work, timeoutMs: 120_000 },
  );
  expect(run.stderr).toMatch(/Web UI at http:\/\/localhost:\d+/);
  expect(run.code).toBe(0);
  const outcomes = JSON.parse(run.stdout) as StepOutcome[];
  expect(outcomes.map((o) => [o.taskId, o.success])).toEqual([
    ['map-modules', true],
    ['find-todos', true],
    ['release-plan', true],
    // Its first attempt fails by script; Temporal retried it.
    ['tests', true],
  ]);

  expect(existsSync(db)).toBe(true);
  expect(existsSync(`${db}.lock`)).toBe(false);
  const port = Number(/Temporal at 127\.0\.0\.1:(\d+)/.exec(run.stderr)![1]);
  expect(await isListening(port)).toBe(false);
});

test('a `tao dev` killed with SIGKILL takes its dev server with it: no orphan keeps the port or the history', async () => {
  const work = mkdtempSync(join(tmpdir(), 'tao-cli-dev-kill-'));
  const port = await freePort();
  const dev = startTao(
    ['dev', '--port', String(port), '--ui-port', String(await freePort()), '--db', join(work, 'dev.db')],
    { cwd: work },
  );
  await dev.waitFor('worker polling', 60_000);
  expect(await isListening(port)).toBe(true);
  await dev.kill();
  await eventually(async () => ((await isListening(port)) ? undefined : true));
});
