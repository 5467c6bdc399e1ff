/**
 * The deployment commands of docs/deploy.md as a user types them: `tao
 * keygen` makes a key file, a worker encrypts with it, `tao codec-server`
 * (behind a token) decodes for the Temporal CLI, given `--codec-endpoint` and
 * `--codec-auth` as in the docs.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { loadKeyRing, taoDataConverter } from '../../src/codec';
import { freePort } from '../../src/local/dev-server';
import { ScriptExecutor } from '../../src/executors/script';
import { startTao, stopTaoProcesses, tao } from '../support/cli';
import { temporalCli } from '../support/temporal-cli';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

const dir = mkdtempSync(join(tmpdir(), 'tao-deploy-'));
afterAll(async () => {
  await stopTaoProcesses();
  await closeDevClient();
  rmSync(dir, { recursive: true, force: true });
});

test('tao keygen, an encrypted run, and tao codec-server behind a token for the Temporal CLI', async () => {
  const lines = await Promise.all([tao(['keygen', '2026-11']), tao(['keygen', '2026-10'])]);
  for (const line of lines) expect(line.stdout).toMatch(/^2026-1[01]:[A-Za-z0-9+/]{43}=\n$/);
  const keyFile = join(dir, 'tao.keys');
  writeFileSync(keyFile, lines.map((l) => l.stdout).join(''));
  chmodSync(keyFile, 0o600);
  const blobs = join(dir, 'blobs');

  const port = await freePort();
  const codec = startTao(
    ['codec-server', '--port', String(port), '--blobs', blobs, '--encryption-key-file', keyFile],
    { env: { TAO_CODEC_AUTH_TOKEN: 'codec-secret-9f1' } },
  );
  await codec.waitFor(`codec server at http://127.0.0.1:${port} (token required)`);

  const dataConverter = taoDataConverter({ blobs, encryption: loadKeyRing({ keyFile })! });
  const executor = new ScriptExecutor({ default: { output: `FINDINGS ${'detail '.repeat(30_000)}` } });
  await withWorker({ executor, dataConverter }, async ({ client: raw, taskQueue }) => {
    const client = new Client({ connection: raw.connection, dataConverter });
    const workflowId = uniqueId('deploy');
    await client.workflow.execute('parallelWorkflow', {
      taskQueue,
      workflowId,
      args: [{ specs: [{ taskId: 'review', agent: 'review', prompt: 'review it' }] }],
    });
    const endpoint = `http://127.0.0.1:${port}`;
    const decoded = await temporalCli([
      'workflow',
      'result',
      '--workflow-id',
      workflowId,
      '--codec-endpoint',
      endpoint,
      '--codec-auth',
      'Bearer codec-secret-9f1',
    ]);
    expect(decoded.code).toBe(0);
    expect(decoded.stdout).toContain('FINDINGS detail detail');
    const refused = await fetch(`${endpoint}/decode`, { method: 'POST', body: '{"payloads":[]}' });
    expect(refused.status).toBe(401);
  });
  expect(codec.output()).not.toContain('codec-secret-9f1');
  await codec.stop();
});
