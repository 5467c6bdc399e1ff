import { Client } from 'pg';
import { PostgresSessionStore } from '../../src/stores/postgres-store';
import { startPostgres, type TestPostgres } from '../support/postgres';
import { describeSessionStoreContract } from './store-contract';
import { describeTranscriptContract } from './transcript-contract';

let pg: TestPostgres;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(() => pg?.destroy());

let databases = 0;

/** Each contract test gets a database of its own, so it starts from an empty store. */
async function open() {
  const name = `contract_${++databases}`;
  const admin = new Client({ connectionString: pg.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const store = await PostgresSessionStore.connect(pg.url.replace(/\/postgres$/, `/${name}`));
  return { store, cleanup: () => store.close() };
}

describeSessionStoreContract('postgres', open);
describeTranscriptContract('postgres', open);
