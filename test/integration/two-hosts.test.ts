/**
 * Two worker "hosts" with no shared disk: each `tao worker` runs in its own
 * working directory, they share only the PostgreSQL checkpoint store and the
 * blob store (S3, then PostgreSQL), and the client is a third process. A
 * pipeline's first stage, on worker A, outputs 3 MB (far past the claim-check
 * threshold); its second stage, on worker B, must read it; the client reads
 * the result back.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StepOutcome } from '../../src/contracts';
import type { Progress } from '../../src/workflows/lib';
import { startTao, stopTaoProcesses, tao } from '../support/cli';
import { eventually } from '../support/gate-executor';
import { type TestPostgres, startPostgres } from '../support/postgres';
import { type TestS3, startS3 } from '../support/s3';
import { devServerAddress, uniqueId } from '../support/temporal';

let s3: TestS3;
let postgres: TestPostgres;
const root = mkdtempSync(join(tmpdir(), 'tao-two-hosts-'));
const BIG = `${'3 MB of stage-one output. '.repeat(120_000)}END-OF-BIG-OUTPUT`;

beforeAll(async () => {
  postgres = await startPostgres();
  s3 = await startS3();
}, 300_000);

afterAll(async () => {
  await stopTaoProcesses();
  await s3.stop();
  postgres.destroy();
  rmSync(root, { recursive: true, force: true });
});

/** A host: its own directory, its own script rules. */
function host(name: string, rules: object): { cwd: string; rules: string } {
  const cwd = mkdtempSync(join(root, `${name}-`));
  writeFileSync(join(cwd, 'rules.json'), JSON.stringify(rules));
  return { cwd, rules: join(cwd, 'rules.json') };
}

const blobRefs: [string, () => string][] = [
  ['S3', () => `s3://${s3.bucket}/${uniqueId('fleet')}`],
  ['PostgreSQL', () => postgres.url],
];

test.each(blobRefs)(
  'a 3 MB output crosses from worker A to worker B through blobs on %s',
  async (_name, blobs) => {
    const taskQueue = uniqueId('two-hosts');
    const env = {
      ...s3.env,
      TEMPORAL_ADDRESS: devServerAddress(),
      TAO_BLOBS: blobs(),
      TAO_STORE: postgres.url,
    };
    const a = host('a', { agents: { produce: { output: BIG }, consume: { delayMs: 600_000 } } });
    const b = host('b', {
      agents: {
        produce: { output: 'worker B must not run stage one' },
        consume: { output: 'B read: {{{prompt}}}' },
      },
    });
    const client = host('client', {});
    const worker = (h: { cwd: string; rules: string }) =>
      startTao(['worker', '--task-queue', taskQueue, '--executor', `script:${h.rules}`], { cwd: h.cwd, env });

    const workerA = worker(a);
    await workerA.waitFor('worker polling task queue', 60_000);
    const spec = join(client.cwd, 'spec.json');
    writeFileSync(
      spec,
      JSON.stringify({
        workflow: 'pipeline',
        input: {
          items: [{ name: 'doc' }],
          stages: [
            { taskId: 'produce:{{item.name}}', agent: 'produce', prompt: 'write a lot' },
            { taskId: 'consume:{{item.name}}', agent: 'consume', prompt: '{{{prev.output}}}' },
          ],
          stepPolicy: { heartbeatTimeoutMs: 3_000, initialRetryIntervalMs: 200 },
        },
      }),
    );
    const started = await tao(['start', spec, '--task-queue', taskQueue], { cwd: client.cwd, env });
    expect(started.stderr).toBe('');
    const workflowId = started.stdout.trim();

    // Stage one done on A and stage two running there: A dies, as a host does.
    await eventually(async () => {
      const status = await tao(['status', workflowId, '--json'], { cwd: client.cwd, env });
      const progress = (JSON.parse(status.stdout) as { progress: Progress | null }).progress;
      const statuses = Object.fromEntries((progress?.steps ?? []).map((s) => [s.taskId, s.status]));
      return statuses['produce:doc'] === 'succeeded' && statuses['consume:doc'] === 'running'
        ? true
        : undefined;
    }, 60_000);
    await workerA.kill();
    const workerB = worker(b);
    await workerB.waitFor('worker polling task queue', 60_000);

    const result = await tao(['result', workflowId, '--json'], { cwd: client.cwd, env, timeoutMs: 90_000 });
    expect(result.code).toBe(0);
    const [outcome] = JSON.parse(result.stdout) as StepOutcome[];
    expect(outcome).toMatchObject({ taskId: 'consume:doc', success: true });
    expect(outcome!.output).toBe(`B read: ${BIG}`);
    await workerB.stop();
    // Nothing went through a local directory on any "host".
    for (const h of [a, b, client]) expect(existsSync(join(h.cwd, '.tao', 'blobs'))).toBe(false);
  },
);
