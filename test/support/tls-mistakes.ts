/**
 * The TLS settings people get wrong against an endpoint that requires a client
 * certificate, each with the one line `tao` must answer it with. Shared by
 * test/connection/secure-connection.test.ts (that the line is right) and the
 * bench's `tls` section (how soon it comes: the 15 s in docs/deploy.md).
 */
import type { TestPki } from './tls';

/** What reaches `address`, an endpoint that requires a client certificate signed by `pki`'s CA. */
export const mtlsEnv = (pki: TestPki, address: string): NodeJS.ProcessEnv => ({
  TEMPORAL_ADDRESS: address,
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
  TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert,
  TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey,
});

export interface TlsMistake {
  name: string;
  /** The settings, for the endpoint at `address` that requires a client certificate from `pki`'s CA. */
  env(pki: TestPki, address: string): NodeJS.ProcessEnv;
  /** The one line on stderr. */
  fix: RegExp;
}

export const TLS_MISTAKES: TlsMistake[] = [
  {
    name: 'no client certificate',
    env: (pki, address) => ({ TEMPORAL_ADDRESS: address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert }),
    fix: /requires a client certificate; set --tls-cert-path and --tls-key-path/,
  },
  {
    name: 'a client certificate from another CA',
    env: (pki, address) => ({
      ...mtlsEnv(pki, address),
      TEMPORAL_TLS_CLIENT_CERT_PATH: pki.strangerCert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: pki.strangerKey,
    }),
    fix: /refused the client certificate .*; fix --tls-cert-path and --tls-key-path/,
  },
  {
    name: 'the wrong CA',
    env: (pki, address) => ({ ...mtlsEnv(pki, address), TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.otherCaCert }),
    fix: /not signed by a trusted CA; set --tls-ca-path \(TEMPORAL_TLS_SERVER_CA_CERT_PATH\)/,
  },
  {
    name: 'the wrong server name',
    env: (pki, address) => ({ ...mtlsEnv(pki, address), TEMPORAL_TLS_SERVER_NAME: 'temporal.example' }),
    fix: /not valid for temporal\.example; set --tls-server-name \(TEMPORAL_TLS_SERVER_NAME\)/,
  },
  {
    name: 'a key that is not a key',
    env: (pki, address) => ({ ...mtlsEnv(pki, address), TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientCert }),
    fix: /client key cannot be read as a PEM private key: fix --tls-key-path/,
  },
  {
    name: 'no TLS at all',
    env: (_pki, address) => ({ TEMPORAL_ADDRESS: address }),
    fix: /requires TLS: set --tls \(TEMPORAL_TLS=true\)/,
  },
];

/** The two commands each mistake is tried with; `spec` is a run spec file for `tao run`. */
export const tlsCommands = (spec: string): string[][] => [
  ['worker', '--store', 'memory'],
  ['run', spec],
];
