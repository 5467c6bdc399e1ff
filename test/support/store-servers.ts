/** PostgreSQL and S3 (moto) for a test file that runs against both, started once before its tests. */
import { type TestPostgres, startPostgres } from './postgres';
import { type TestS3, startS3 } from './s3';

export interface StoreServers {
  postgres: TestPostgres;
  s3: TestS3;
}

/**
 * Starts both in the calling file's `beforeAll` and stops them after; read
 * the fields inside tests. The AWS_* variables are set in process.env
 * meanwhile, since the AWS SDK reads its credentials there, and restored after.
 */
export function useStoreServers(): StoreServers {
  const servers = {} as StoreServers;
  const saved = { ...process.env };
  beforeAll(async () => {
    servers.postgres = await startPostgres();
    servers.s3 = await startS3();
    Object.assign(process.env, servers.s3.env);
  }, 300_000);
  afterAll(async () => {
    process.env = saved;
    await servers.s3?.stop();
    servers.postgres?.destroy();
  });
  return servers;
}
