/**
 * How a connection is resolved, without a server: the Temporal CLI's order
 * (flags over TEMPORAL_* env over the TOML profile), files read up front, and
 * one clear line for each setting mistake.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeConnection, resolveConnection } from '../../src/connection/settings';
import { type TestPki, makeTestPki } from '../support/tls';

let pki: TestPki;
let configFile: string;

beforeAll(() => {
  pki = makeTestPki();
  configFile = join(pki.dir, 'temporal.toml');
  writeFileSync(
    configFile,
    [
      '[profile.default]',
      'address = "default.example:7233"',
      '[profile.cloud]',
      'address = "cloud.example:7233"',
      'namespace = "from-profile"',
      'api_key = "profile-key"',
      '[profile.cloud.tls]',
      `server_ca_cert_path = "${pki.caCert}"`,
      'server_name = "profile.example"',
    ].join('\n'),
  );
});
afterAll(() => pki.remove());

const tlsOf = (connection: ReturnType<typeof resolveConnection>) =>
  typeof connection.tls === 'object' ? connection.tls : undefined;

test('defaults: a plaintext local server in the default namespace', () => {
  expect(resolveConnection({}, {})).toEqual({ address: '127.0.0.1:7233', namespace: 'default' });
});

test('flags win over env, env over the profile, field by field', () => {
  const env = { TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'cloud', TEMPORAL_NAMESPACE: 'from-env' };
  const fromProfileAndEnv = resolveConnection({}, env);
  expect(fromProfileAndEnv).toMatchObject({
    address: 'cloud.example:7233',
    namespace: 'from-env',
    apiKey: 'profile-key',
  });
  expect(tlsOf(fromProfileAndEnv)?.serverNameOverride).toBe('profile.example');
  expect(Buffer.from(tlsOf(fromProfileAndEnv)!.serverRootCACertificate!).toString()).toContain(
    'BEGIN CERTIFICATE',
  );

  const withFlags = resolveConnection(
    {
      address: 'flag.example:7233',
      apiKey: 'flag-key',
      tlsServerName: 'flag.example',
      namespace: 'from-flag',
    },
    { ...env, TEMPORAL_API_KEY: 'env-key' },
  );
  expect(withFlags).toMatchObject({
    address: 'flag.example:7233',
    namespace: 'from-flag',
    apiKey: 'flag-key',
  });
  expect(tlsOf(withFlags)?.serverNameOverride).toBe('flag.example');
  expect(resolveConnection({ profile: 'default', configFile }, {}).address).toBe('default.example:7233');
});

test('an API key implies TLS; TEMPORAL_TLS=false turns it off; the _DATA forms work', () => {
  expect(resolveConnection({}, { TEMPORAL_API_KEY: 'k' }).tls).toBe(true);
  expect(resolveConnection({}, { TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' }).tls).toBe(false);
  const pem = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
  const fromData = resolveConnection({}, { TEMPORAL_TLS_SERVER_CA_CERT_DATA: pem });
  expect(Buffer.from(tlsOf(fromData)!.serverRootCACertificate!).toString()).toBe(pem);
});

test('the description shows how it connects, never the key', () => {
  const connection = resolveConnection(
    { apiKey: 'sekret-123', tlsCertPath: pki.clientCert, tlsKeyPath: pki.clientKey },
    {},
  );
  const text = describeConnection(connection);
  expect(text).toBe('127.0.0.1:7233 (namespace default, TLS, client certificate, API key)');
  expect(text).not.toContain('sekret');
});

test.each([
  [
    { configFile: '/nonexistent/temporal.toml' },
    {},
    /^Temporal config file \/nonexistent\/temporal.toml not found; fix --config-file/,
  ],
  [
    { profile: 'staging' },
    {},
    /^profile "staging" is not in .*temporal\.toml; fix --profile or TEMPORAL_PROFILE$/,
  ],
  [{ tlsCertPath: 'cert.pem' }, {}, /^a TLS client certificate needs its key: set --tls-key-path/],
  [{ tlsKeyPath: 'key.pem' }, {}, /^a TLS client key needs its certificate: set --tls-cert-path/],
  [
    { tlsCaPath: '/nonexistent/ca.pem' },
    {},
    /^cannot read TLS file \/nonexistent\/ca.pem \(ENOENT\); fix --tls-ca-path/,
  ],
  [
    {},
    { TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'true' },
    /not supported by Temporal's TypeScript SDK; set --tls-server-name/,
  ],
  [{ address: 'localhost' }, {}, /^invalid --address .*"localhost": must be host:port/],
])('%j %j is refused with one line', (flags, env, message) => {
  const withConfig = { TEMPORAL_CONFIG_FILE: configFile, ...env };
  let error: Error | undefined;
  try {
    resolveConnection(flags, withConfig);
  } catch (thrown) {
    error = thrown as Error;
  }
  expect(error?.message).toMatch(message);
  expect(error?.message.split('\n')).toHaveLength(1);
});
