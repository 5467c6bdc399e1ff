/**
 * A worker loads the heavy SDKs only for what it is set up to use: the model
 * SDKs, MCP and Ajv with the llm executor, the PostgreSQL driver with a
 * database, the AWS SDK with S3 blobs. Checked in a fresh Node process,
 * which has loaded nothing before it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = join(__dirname, '..', '..');
const HEAVY = ['openai', '@anthropic-ai/sdk', '@modelcontextprotocol/sdk', 'ajv', 'pg', '@aws-sdk/client-s3'];

/** Runs `body` (JavaScript, with the worker API as `tao`) in a fresh process; returns the heavy packages it loaded. */
async function heavyLoadedBy(body: string): Promise<string[]> {
  const script = `
    const tao = require('./src/worker.ts');
    (async () => {
      ${body}
      const heavy = ${JSON.stringify(HEAVY)};
      const loaded = Object.keys(require.cache).flatMap((file) =>
        heavy.filter((name) => file.includes('/node_modules/' + name + '/')));
      console.log(JSON.stringify([...new Set(loaded)].sort()));
    })().catch((error) => { console.error(error); process.exit(1); });`;
  const { stdout } = await run(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
    cwd: REPO,
    timeout: 60_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as string[];
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tao-loaded-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('a script worker on the memory store, with file blobs, loads none of them', async () => {
  const loaded = await heavyLoadedBy(`
    await tao.createExecutor('script');
    await tao.createStore('memory');
    tao.openBlobStore(${JSON.stringify(dir)});
  `);
  expect(loaded).toEqual([]);
});

test('an llm executor loads its model SDK with the first step, and MCP and Ajv not before a step needs them', async () => {
  // Nothing listens on port 9: the step's request fails (checked), after the SDK is loaded to make it.
  const loaded = await heavyLoadedBy(`
    const executor = await tao.LlmExecutor.create({
      provider: 'local',
      model: 'm',
      workspace: ${JSON.stringify(dir)},
      providers: { local: { type: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
    });
    const before = Object.keys(require.cache).some((file) => file.includes('/node_modules/openai/'));
    if (before) throw new Error('the OpenAI SDK was loaded by LlmExecutor.create');
    const context = { signal: new AbortController().signal, heartbeat() {}, saveState() {}, output() {}, attempt: 1, workflowId: 'w' };
    const failure = await executor.executeStep({ taskId: 't', agent: 'general', prompt: 'p' }, context).then(() => undefined, (error) => error);
    if (!/^cannot reach /.test(failure?.message)) throw new Error('the step did not fail to reach port 9: ' + (failure?.message ?? 'it answered'));
    await executor.close();
  `);
  expect(loaded).toEqual(['openai']);
});

test('naming S3 blobs loads the AWS SDK only when a blob is first stored or read', async () => {
  // Nothing listens on port 9: the SDK is loaded by the attempt, which then fails (checked).
  const loaded = await heavyLoadedBy(`
    const blobs = tao.openBlobStore('s3://tao-bucket/p', { AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' });
    const before = Object.keys(require.cache).some((file) => file.includes('/node_modules/@aws-sdk/client-s3/'));
    if (before) throw new Error('the AWS SDK was loaded by openBlobStore');
    const failure = await blobs.get('sha256-' + '0'.repeat(64)).then(() => undefined, (error) => error);
    if (!String(failure?.message).startsWith('S3 blob store s3://tao-bucket/p failed ')) throw new Error('the read did not fail to reach port 9: ' + (failure?.message ?? 'it answered'));
    await blobs.close();
  `);
  expect(loaded).toEqual(['@aws-sdk/client-s3']);
});

test('the CLI loads the worker SDK only for the commands that run a worker: `tao pending` and the like start without it', async () => {
  // Loading @temporalio/worker (its native bridge, the bundler) took about 0.4 s of a CLI start on this machine.
  const script = `
    require('./src/cli/main.ts');
    const worker = Object.keys(require.cache).some((file) => file.includes('/node_modules/@temporalio/worker/'));
    console.log(JSON.stringify(worker));`;
  const { stdout } = await run(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
    cwd: REPO,
    timeout: 60_000,
  });
  expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toBe(false);
});
