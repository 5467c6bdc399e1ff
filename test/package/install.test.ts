/**
 * TAO as a package, proved outside the repository: the tarball `npm pack`
 * makes is installed into a fresh project in a temporary directory, whose own
 * workflow (TypeScript, importing `<pkg>/workflow`, with stage functions) is
 * type-checked, bundled by its own worker that adds `TaoPlugin` from
 * `<pkg>/worker`, run on the dev server, and replayed by a user test built on
 * `<pkg>/testing`. Nothing in the project can reach this repository's sources.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { devServerAddress } from '../support/temporal';
import { temporalCli } from '../support/temporal-cli';

const run = promisify(execFile);
const REPO = join(__dirname, '..', '..');
const ours = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  name: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

let project: string;
beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'tao-user-project-'));
});
afterAll(() => rmSync(project, { recursive: true, force: true }));

const USER_WORKFLOW = `
import { executePipeline, type PipelineStage, type StepOutcome } from '${ours.name}/workflow';

interface Doc { path: string }

const stages: PipelineStage<Doc>[] = [
  (_prev, doc) => ({ taskId: 'summarize:' + doc.path, agent: 'explore', prompt: 'summarize ' + doc.path }),
  (prev, doc) => ({ taskId: 'check:' + doc.path, agent: 'verify', prompt: 'check ' + prev!.output }),
];

export async function docsWorkflow(docs: Doc[]): Promise<(StepOutcome | null)[]> {
  return executePipeline(docs, stages, { concurrency: 2 });
}
`;

const USER_WORKER = `
const { writeFileSync } = require('node:fs');
const { Client, Connection } = require('@temporalio/client');
const { NativeConnection, Worker } = require('@temporalio/worker');
const { TaoPlugin, ScriptExecutor, MemorySessionStore } = require('${ours.name}/worker');

async function main() {
  const address = process.env.TEMPORAL_ADDRESS;
  const plugin = new TaoPlugin({ executor: new ScriptExecutor(), store: new MemorySessionStore() });
  const worker = await Worker.create({
    connection: await NativeConnection.connect({ address }),
    taskQueue: 'user-project',
    workflowsPath: require.resolve('./workflows.ts'),
    plugins: [plugin],
  });
  const client = new Client({ connection: await Connection.connect({ address }), plugins: [plugin] });
  const workflowId = 'user-docs-' + Date.now();
  const result = await worker.runUntil(
    client.workflow.execute('docsWorkflow', {
      taskQueue: 'user-project',
      workflowId,
      args: [[{ path: 'a.md' }, { path: 'b.md' }]],
    }),
  );
  writeFileSync('workflow-id', workflowId);
  console.log(JSON.stringify(result));
}
main().catch((error) => { console.error(error); process.exit(1); });
`;

const USER_REPLAY_TEST = `
const { readFileSync } = require('node:fs');
const { replayHistories } = require('${ours.name}/testing');

const history = { workflowId: readFileSync('workflow-id', 'utf8'), history: JSON.parse(readFileSync('history.json', 'utf8')) };
replayHistories(require.resolve('./workflows.ts'), [history])
  .then(() => console.log('replayed'))
  .catch((error) => { console.error(error.message); process.exit(1); });
`;

test('packed, installed into a fresh project, bundled with TaoPlugin, run and replayed there', async () => {
  const { stdout: packed } = await run('npm', ['pack', '--json', '--pack-destination', project], {
    cwd: REPO,
    maxBuffer: 64 * 1024 * 1024,
  });
  const [tarball] = JSON.parse(packed.slice(packed.indexOf('['))) as {
    filename: string;
    size: number;
    unpackedSize: number;
    files: { path: string }[];
  }[];
  const paths = tarball!.files.map((file) => file.path);
  expect(paths).toEqual(
    expect.arrayContaining([
      'bin/tao.js',
      'dist/workflow.d.ts',
      'dist/testing.js',
      'ui/app.js',
      'ui/index.html',
    ]),
  );
  expect(paths.filter((path) => /^(test|src|scripts|\.tao|\.ci)\/|\.map$|fixtures/.test(path))).toEqual([]);
  console.log(
    `npm pack: ${tarball!.filename} ${tarball!.size} B packed, ${tarball!.unpackedSize} B unpacked, ${paths.length} files`,
  );

  const pin = (name: string) => ours.dependencies[name]!;
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({
      name: 'user-project',
      private: true,
      dependencies: {
        [ours.name]: `file:./${tarball!.filename}`,
        '@temporalio/client': pin('@temporalio/client'),
        '@temporalio/worker': pin('@temporalio/worker'),
        '@temporalio/workflow': pin('@temporalio/workflow'),
        // One protobufjs for the SDK's packages to share (see the README's package section).
        protobufjs: (ours as unknown as { devDependencies: Record<string, string> }).devDependencies
          .protobufjs,
      },
    }),
  );
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: project,
    maxBuffer: 64 * 1024 * 1024,
  });
  writeFileSync(join(project, 'workflows.ts'), USER_WORKFLOW);
  writeFileSync(join(project, 'worker.js'), USER_WORKER);
  writeFileSync(join(project, 'replay.test.js'), USER_REPLAY_TEST);

  // The package's own .d.ts files type the user's workflow, through its exports map.
  const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  await run(
    process.execPath,
    [
      tsc,
      '--noEmit',
      '--strict',
      '--module',
      'node16',
      '--moduleResolution',
      'node16',
      '--skipLibCheck',
      'workflows.ts',
    ],
    { cwd: project },
  );

  const env = { ...process.env, TEMPORAL_ADDRESS: devServerAddress() };
  const worker = await run(process.execPath, ['worker.js'], {
    cwd: project,
    env,
    maxBuffer: 16 * 1024 * 1024,
  });
  const result = JSON.parse(worker.stdout.trim().split('\n').pop()!) as { taskId: string; output: string }[];
  expect(result.map((o) => [o.taskId, o.output])).toEqual([
    ['check:a.md', 'check summarize a.md'],
    ['check:b.md', 'check summarize b.md'],
  ]);

  // The history as a user downloads it, from the Temporal CLI (or the Web UI's JSON export).
  const workflowId = readFileSync(join(project, 'workflow-id'), 'utf8');
  const shown = await temporalCli(['workflow', 'show', '--workflow-id', workflowId]);
  writeFileSync(join(project, 'history.json'), shown.stdout);
  const replay = await run(process.execPath, ['replay.test.js'], { cwd: project, env });
  expect(replay.stdout.trim()).toBe('replayed');
  // A failure bound, not a speed check: `npm install` of the packed tarball alone takes over a minute on a loaded 2-core machine.
}, 300_000);
