/** `npm run bench` refuses a misspelt section in one line, before it starts a dev server or runs anything. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

test('--only with an unknown section names it and the sections there are, and exits 1', () => {
  const run = spawnSync(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', 'scripts/bench/index.ts', '--only', 'big,bigg'],
    { cwd: join(__dirname, '../..'), encoding: 'utf8' },
  );
  expect(run.status).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderr.trim().split('\n')).toEqual([
    'error: --only: no section bigg; sections: pipeline, overhead, throughput, failover, actions, resume, stepstate, big, payloads, batch, batch-crash, journal, baseline, agents, scaling, prompt-cache, tls, ui, step-page, timeline, inbox, delegation, chaos',
  ]);
});
