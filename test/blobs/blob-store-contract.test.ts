/**
 * One contract for every blob store, on real servers: a directory, S3 (moto)
 * and PostgreSQL. Blobs are content-addressed and verified on read; a missing
 * or altered blob is a non-retryable failure that names the key. Each lists
 * what it holds and deletes by key, and a put of bytes it already holds
 * renews their written time, which `tao gc` relies on.
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { Client as PgClient } from 'pg';
import { BLOB_ERROR_TYPE, type BlobStore, blobKey, openBlobStore } from '../../src/blobs';
import { useStoreServers } from '../support/store-servers';

const servers = useStoreServers();
const dir = mkdtempSync(join(tmpdir(), 'tao-blobs-contract-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Backend {
  name: string;
  ref: () => string;
  /** Replaces the stored bytes of `key` behind the store's back. */
  tamper(key: string, bytes: Buffer): Promise<void>;
}

const backends: Backend[] = [
  {
    name: 'directory',
    ref: () => join(dir, 'blobs'),
    tamper: async (key, bytes) => writeFileSync(join(dir, 'blobs', key), bytes),
  },
  {
    name: 'S3',
    ref: () => `s3://${servers.s3.bucket}/run-1`,
    tamper: async (key, bytes) => {
      const client = new S3Client({ forcePathStyle: true, endpoint: servers.s3.endpoint });
      await client.send(
        new PutObjectCommand({ Bucket: servers.s3.bucket, Key: `run-1/${key}`, Body: bytes }),
      );
      client.destroy();
    },
  },
  {
    name: 'PostgreSQL',
    ref: () => servers.postgres.url,
    tamper: async (key, bytes) => {
      const client = new PgClient({ connectionString: servers.postgres.url });
      await client.connect();
      await client.query('UPDATE tao_blobs SET bytes = $2 WHERE key = $1', [key, bytes]);
      await client.end();
    },
  },
];

describe.each(backends)('the $name blob store', (backend) => {
  let store: BlobStore;
  beforeAll(() => (store = openBlobStore(backend.ref())));
  afterAll(() => store.close?.());

  test('round-trips bytes under their SHA-256, and a second put of the same bytes keeps them under the same key', async () => {
    const bytes = Buffer.from(`payload for ${backend.name} `.repeat(10_000));
    const key = await store.put(bytes);
    expect(key).toBe(blobKey(bytes));
    expect(Buffer.from(await store.get(key))).toEqual(bytes);
    // The second put answers the same key and leaves the same bytes under it.
    expect(await store.put(bytes)).toBe(key);
    expect(Buffer.from(await store.get(key))).toEqual(bytes);
  });

  test('lists blobs with size and written time; a put of held bytes renews it, and a delete with an earlier cut-off spares it', async () => {
    const bytes = Buffer.from(`listed ${backend.name} `.repeat(1000));
    const key = await store.put(bytes);
    const listed = (await store.list()).find((entry) => entry.key === key);
    expect(listed).toEqual({ key, bytes: bytes.length, writtenMs: expect.any(Number) });
    expect(Math.abs(listed!.writtenMs - Date.now())).toBeLessThan(5_000);
    // S3 keeps its times in whole seconds.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await store.put(bytes);
    const renewed = (await store.list()).find((entry) => entry.key === key)!.writtenMs;
    expect(renewed).toBeGreaterThan(listed!.writtenMs);

    expect(await store.delete(key, listed!.writtenMs + 500)).toBe(false);
    expect(Buffer.from(await store.get(key))).toEqual(bytes);
    expect(await store.delete(key, Date.now() + 5_000)).toBe(true);
    expect(await store.delete(key)).toBe(false);
    expect((await store.list()).map((entry) => entry.key)).not.toContain(key);
    await expect(store.get(key)).rejects.toMatchObject({ type: BLOB_ERROR_TYPE });
  });

  test('a missing blob is a non-retryable failure naming the key and the store', async () => {
    const key = blobKey(Buffer.from(`never stored ${backend.name}`));
    const error = await store.get(key).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error).toMatchObject({ nonRetryable: true, type: BLOB_ERROR_TYPE });
    expect((error as Error).message).toContain(`payload blob ${key} not found in ${store.location}`);
    expect((error as Error).message).not.toContain('not-a-real-secret');
  });

  test('an altered blob is refused, naming the key', async () => {
    const key = await store.put(Buffer.from(`original ${backend.name}`));
    await backend.tamper(key, Buffer.from(`altered ${backend.name}`));
    const error = await store.get(key).catch((e: unknown) => e);
    expect(error).toMatchObject({ nonRetryable: true, type: BLOB_ERROR_TYPE });
    expect((error as Error).message).toContain(
      `payload blob ${key} in ${store.location} does not match its hash`,
    );
  });
});

test('blob directories are owner-only (0700) and blobs 0600, an older world-readable directory included', async () => {
  const older = join(dir, 'older');
  mkdirSync(older, { mode: 0o755 });
  chmodSync(older, 0o755);
  for (const path of [join(dir, 'fresh', 'nested'), older]) {
    const key = await openBlobStore(path).put(Buffer.from('private prompt'));
    expect(statSync(path).mode & 0o777).toBe(0o700);
    expect(statSync(join(path, key)).mode & 0o777).toBe(0o600);
    expect(readdirSync(path)).toEqual([key]);
  }
});

test('a listing leaves out what is not a blob: temp files in a directory, other prefixes of a bucket', async () => {
  const path = join(dir, 'mixed');
  const key = await openBlobStore(path).put(Buffer.from('mixed'));
  writeFileSync(join(path, 'README'), 'not a blob');
  writeFileSync(join(path, `.${key}.1.2.tmp`), 'half a blob');
  expect((await openBlobStore(path).list()).map((entry) => entry.key)).toEqual([key]);
  expect(await openBlobStore(join(dir, 'never-written')).list()).toEqual([]);

  const [one, two] = [
    openBlobStore(`s3://${servers.s3.bucket}/gc-1`),
    openBlobStore(`s3://${servers.s3.bucket}/gc-2`),
  ];
  const only = await one.put(Buffer.from('only in gc-1'));
  expect((await one.list()).map((entry) => entry.key)).toEqual([only]);
  expect(await two.list()).toEqual([]);
  await Promise.all([one.close?.(), two.close?.()]);
});

test('an unreachable S3 endpoint is a retryable one-line error; a bad reference is refused at once', async () => {
  const store = openBlobStore(`s3://${'b'.repeat(5)}/x`, {
    ...process.env,
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
  });
  const error = (await store.put(Buffer.from('x')).catch((e: unknown) => e)) as Error;
  expect(error).not.toBeInstanceOf(ApplicationFailure);
  expect(error.message).toMatch(/^S3 blob store s3:\/\/bbbbb\/x failed \(.*\); check AWS_ENDPOINT_URL/);
  expect(error.message.split('\n')).toHaveLength(1);
  expect(error.message).not.toContain('tao-test-secret-key');
  await store.close?.();
  expect(() => openBlobStore('s3://')).toThrow(
    'invalid --blobs (or TAO_BLOBS) "s3://": expected s3://<bucket>[/<prefix>]',
  );
});
