/**
 * Where and how to reach Temporal, read the way the Temporal CLI reads it,
 * through the SDK's own `@temporalio/envconfig`: a TOML profile
 * (`TEMPORAL_CONFIG_FILE`, `TEMPORAL_PROFILE`), overridden by the `TEMPORAL_*`
 * variables, overridden by flags named as the CLI names them. Certificate and
 * key files are read here, once, so a wrong path fails before any connection.
 */
import { existsSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import {
  type ClientConfigProfile,
  type ClientConfigTLS,
  loadClientConfigProfile,
  toClientOptions,
} from '@temporalio/envconfig';
import { InputError } from '../config/data-file';

/** The connection flags every command that connects takes (see src/cli/options.ts). */
export interface ConnectionFlags {
  address?: string;
  namespace?: string;
  profile?: string;
  configFile?: string;
  apiKey?: string;
  tls?: boolean;
  tlsCaPath?: string;
  tlsCertPath?: string;
  tlsKeyPath?: string;
  tlsServerName?: string;
  tlsDisableHostVerification?: boolean;
}

/** A resolved connection: what `Connection.connect` and `NativeConnection.connect` take, plus the namespace. */
export interface TemporalConnection {
  address: string;
  namespace: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
}

export const DEFAULT_ADDRESS = '127.0.0.1:7233';
const DEFAULT_NAMESPACE = 'default';
const HOST_PORT = /^[^\s/]+:\d{1,5}$/;

/**
 * The namespace of a server TAO starts itself (`tao dev`, embedded runs). Its
 * connection is plain (`{ address, namespace }`): the profile and TLS settings
 * describe the user's real deployment, not this one.
 */
export function localNamespace(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return flag || env.TEMPORAL_NAMESPACE || DEFAULT_NAMESPACE;
}

export function resolveConnection(
  flags: ConnectionFlags = {},
  env: NodeJS.ProcessEnv = process.env,
): TemporalConnection {
  if (flags.tlsDisableHostVerification || isTrue(env.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION)) {
    throw new InputError(
      "--tls-disable-host-verification (TEMPORAL_TLS_DISABLE_HOST_VERIFICATION) is not supported by Temporal's TypeScript SDK; set --tls-server-name (TEMPORAL_TLS_SERVER_NAME) to the name in the server's certificate instead",
    );
  }
  const profile = withFlags(loadProfile(flags, env), flags);
  const { connectionOptions, namespace } = withReadableFiles(() => toClientOptions(profile));
  const address = profile.address ?? DEFAULT_ADDRESS;
  if (!HOST_PORT.test(address)) {
    throw new InputError(
      `invalid --address (or TEMPORAL_ADDRESS, or the profile's address) "${address}": must be host:port, e.g. ${DEFAULT_ADDRESS}`,
    );
  }
  const { tls, apiKey, metadata } = connectionOptions;
  return {
    address,
    namespace: namespace ?? DEFAULT_NAMESPACE,
    ...(tls !== undefined && tls !== null ? { tls } : {}),
    ...(typeof apiKey === 'string' ? { apiKey } : {}),
    ...(metadata && Object.keys(metadata).length > 0 ? { metadata: metadata as Record<string, string> } : {}),
  };
}

/** One line for logs and banners: never the API key or key material. */
export function describeConnection(connection: TemporalConnection): string {
  const security = [connection.tls ? 'TLS' : 'plaintext'];
  if (typeof connection.tls === 'object' && connection.tls.clientCertPair)
    security.push('client certificate');
  if (connection.apiKey) security.push('API key');
  return `${connection.address} (namespace ${connection.namespace}, ${security.join(', ')})`;
}

function loadProfile(flags: ConnectionFlags, env: NodeJS.ProcessEnv): ClientConfigProfile {
  const configFile = flags.configFile ?? env.TEMPORAL_CONFIG_FILE;
  // envconfig treats a missing file as no file; one the user named must exist.
  if (configFile && !existsSync(configFile)) {
    throw new InputError(
      `Temporal config file ${configFile} not found; fix --config-file or TEMPORAL_CONFIG_FILE`,
    );
  }
  try {
    return loadClientConfigProfile({
      ...(flags.profile ? { profile: flags.profile } : {}),
      ...(flags.configFile ? { configSource: { path: flags.configFile } } : {}),
      overrideEnvVars: definedOnly(env),
    });
  } catch (error) {
    const message = (error as Error).message;
    const where = configFile ?? 'the default Temporal config file';
    if (/Profile '.*' not found/.test(message)) {
      const name = flags.profile ?? env.TEMPORAL_PROFILE;
      throw new InputError(`profile "${name}" is not in ${where}; fix --profile or TEMPORAL_PROFILE`);
    }
    throw new InputError(`cannot read Temporal config file ${where}: ${message.split('\n')[0]}`);
  }
}

/** Flags win over env and profile, field by field, as in the Temporal CLI. */
function withFlags(profile: ClientConfigProfile, flags: ConnectionFlags): ClientConfigProfile {
  const tls: ClientConfigTLS = { ...profile.tls };
  if (flags.tls !== undefined) tls.disabled = !flags.tls;
  if (flags.tlsCaPath) tls.serverCACert = { path: flags.tlsCaPath };
  if (flags.tlsCertPath) tls.clientCert = { path: flags.tlsCertPath };
  if (flags.tlsKeyPath) tls.clientKey = { path: flags.tlsKeyPath };
  if (flags.tlsServerName) tls.serverName = flags.tlsServerName;
  if (Boolean(tls.clientCert) !== Boolean(tls.clientKey)) {
    throw new InputError(
      tls.clientCert
        ? 'a TLS client certificate needs its key: set --tls-key-path (TEMPORAL_TLS_CLIENT_KEY_PATH)'
        : 'a TLS client key needs its certificate: set --tls-cert-path (TEMPORAL_TLS_CLIENT_CERT_PATH)',
    );
  }
  return {
    ...profile,
    ...(flags.address ? { address: flags.address } : {}),
    ...(flags.namespace ? { namespace: flags.namespace } : {}),
    ...(flags.apiKey ? { apiKey: flags.apiKey } : {}),
    ...(Object.keys(tls).length > 0 ? { tls } : {}),
  };
}

/** Names the setting behind a certificate or key file that cannot be read. */
function withReadableFiles<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    const { code, path } = error as NodeJS.ErrnoException;
    if (!code || !path) throw error;
    throw new InputError(
      `cannot read TLS file ${path} (${code}); fix --tls-ca-path, --tls-cert-path or --tls-key-path (TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH)`,
    );
  }
}

function isTrue(value: string | undefined): boolean {
  return value === '1' || value === 'true';
}

/** envconfig reads `undefined` values as set; the process env never holds them, test envs might. */
function definedOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}
