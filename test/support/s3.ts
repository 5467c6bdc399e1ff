/**
 * A real S3-compatible server for tests: moto's server mode, installed from
 * PyPI into `.tao/moto-venv` on first use (the project's own install step, so
 * a fresh machine needs nothing by hand), started on a free loopback port and
 * stopped afterwards. It speaks the S3 REST API the AWS SDK uses.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort, isListening } from '../../src/local/dev-server';
import { taoHome } from '../../src/local/temporal-binaries';

// Pinned, like the Temporal binaries: every machine runs the same server.
const MOTO = 'moto[server]==5.1.22';

export interface TestS3 {
  endpoint: string;
  bucket: string;
  /** The AWS variables a worker, client or codec server needs to reach it. */
  env: Record<string, string>;
  /** Kills the server, as an outage would. */
  stop(): Promise<void>;
}

/** How long a test file waits for another's install of moto before it names the lock to remove. */
const INSTALL_WAIT_MS = 10 * 60_000;

/**
 * moto's server, installed once per machine. Test files run in parallel
 * workers, and two installing into one venv at once left a half-written
 * package that the other started (certifi without its `contents`): so one
 * installs under a lock, and the others wait for its marker.
 */
async function motoServer(): Promise<string> {
  const venv = join(taoHome(), 'moto-venv');
  const marker = join(venv, '.installed');
  const lock = `${venv}.lock`;
  const installed = () => {
    try {
      return readFileSync(marker, 'utf8') === MOTO;
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + INSTALL_WAIT_MS;
  while (!installed()) {
    try {
      mkdirSync(lock);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (Date.now() > deadline) {
        throw new Error(`${lock} has been held for 10 minutes: remove it if no moto install is running`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      continue;
    }
    try {
      const python = process.env.PYTHON ?? 'python3';
      execFileSync(python, ['-m', 'venv', venv], { stdio: 'pipe' });
      execFileSync(join(venv, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', MOTO], {
        stdio: 'pipe',
        timeout: 600_000,
      });
      writeFileSync(marker, MOTO);
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  return join(venv, 'bin', 'moto_server');
}

export async function startS3(bucket = 'tao-test'): Promise<TestS3> {
  const port = await freePort();
  const child: ChildProcess = spawn(await motoServer(), ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  while (!(await isListening(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto_server did not listen on 127.0.0.1:${port}: ${stderr.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const env = {
    AWS_ACCESS_KEY_ID: 'tao-test-access-key',
    AWS_SECRET_ACCESS_KEY: 'tao-test-secret-key',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: endpoint,
  };
  const client = new S3Client({
    endpoint,
    forcePathStyle: true,
    region: env.AWS_REGION,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  return {
    endpoint,
    bucket,
    env,
    async stop() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
