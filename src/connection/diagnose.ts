/**
 * Why a connection to Temporal failed, in one line that names the setting
 * that fixes it. The SDK's own errors are too vague for that (the client's is
 * "Failed to connect before the deadline" whatever the cause), so when TLS is
 * involved the cause is read off a TLS handshake of our own with the same
 * settings: it fails for the same reason, and Node says which.
 */
import { connect as tlsConnect } from 'node:tls';
import type { TemporalConnection } from './settings';

const PROBE_TIMEOUT_MS = 5_000;

interface Probe {
  /** The server took the handshake and the first HTTP/2 frames with these settings. */
  ok: boolean;
  /** The server answered in TLS at all (an alert counts). */
  speaksTls: boolean;
  code?: string;
  message?: string;
}

/** The HTTP/2 connection preface and an empty SETTINGS frame: a gRPC server answers with its SETTINGS. */
const H2_PREFACE = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
]);
const NOT_TLS = /wrong version number|packet length too long|WRONG_VERSION|ECONNRESET|EPIPE/i;

const SETTINGS = {
  ca: '--tls-ca-path (TEMPORAL_TLS_SERVER_CA_CERT_PATH)',
  name: '--tls-server-name (TEMPORAL_TLS_SERVER_NAME)',
  pair: '--tls-cert-path and --tls-key-path (TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH)',
  key: '--tls-key-path (TEMPORAL_TLS_CLIENT_KEY_PATH)',
  tls: '--tls (TEMPORAL_TLS=true)',
  apiKey: '--api-key (TEMPORAL_API_KEY)',
  address: '--address (TEMPORAL_ADDRESS, or the profile)',
};

/** One line naming what went wrong and what to set; never includes a key or API key. */
export async function explainConnectError(error: unknown, connection: TemporalConnection): Promise<string> {
  const raw = firstLine(error);
  const where = `Temporal at ${connection.address}`;
  if (/unauthenticated|invalid api key|api key/i.test(raw) && !/tls/i.test(raw)) {
    return `${where} refused the credentials: check ${SETTINGS.apiKey} or the client certificate`;
  }
  if (/PrivateKeyParseError|DECODER routines|bad decrypt|no start line/i.test(raw)) {
    return `the TLS client key cannot be read as a PEM private key: fix ${SETTINGS.key}`;
  }
  if (/permission denied|PermissionDenied/i.test(raw)) {
    return `${where} refused namespace ${connection.namespace}: check --namespace (TEMPORAL_NAMESPACE) and the credentials' permissions`;
  }
  const probe = await probeTls(connection);
  if (connection.tls) {
    const problem = probe && !probe.ok ? tlsProblem(probe, connection) : undefined;
    if (problem) return `TLS to ${where} failed: ${problem}`;
  } else if (probe?.speaksTls) {
    return `${where} requires TLS: set ${SETTINGS.tls}, with ${SETTINGS.ca} if its CA is private`;
  }
  const why = probe ? raw : 'nothing answers there';
  return `cannot reach ${where} (${why}); start one with \`tao dev\` or fix ${SETTINGS.address}`;
}

function tlsProblem({ code = '', message = '' }: Probe, connection: TemporalConnection): string | undefined {
  const text = `${code} ${message}`;
  if (/CERTIFICATE_REQUIRED|certificate required/i.test(text)) {
    return `the server requires a client certificate; set ${SETTINGS.pair}`;
  }
  if (/ALTNAME|does not match certificate/i.test(text)) {
    const name = typeof connection.tls === 'object' && connection.tls.serverNameOverride;
    return `the server's certificate is not valid for ${name || connection.address.split(':')[0]}; set ${SETTINGS.name} to a name it is issued for`;
  }
  if (
    /UNABLE_TO_VERIFY|SELF_SIGNED|UNABLE_TO_GET_ISSUER|CERT_UNTRUSTED|unknown ca|unable to verify/i.test(text)
  ) {
    return /alert/i.test(text)
      ? `the server refused the client certificate (not signed by a CA it trusts); fix ${SETTINGS.pair}`
      : `the server's certificate is not signed by a trusted CA; set ${SETTINGS.ca} to the CA that signed it`;
  }
  if (/bad certificate|certificate unknown|handshake failure|alert|closed by the server/i.test(text)) {
    const presented = typeof connection.tls === 'object' && connection.tls.clientCertPair;
    return presented
      ? `the server refused the client certificate (is it signed by a CA the server trusts?); fix ${SETTINGS.pair}`
      : `the server closed the connection during TLS; it may require a client certificate: set ${SETTINGS.pair}`;
  }
  if (NOT_TLS.test(text)) {
    return `the server does not speak TLS; unset ${SETTINGS.tls} and the TLS settings, or fix ${SETTINGS.address}`;
  }
  return undefined;
}

/** A TLS handshake with the connection's settings; `undefined` when nothing answers at all. */
function probeTls(connection: TemporalConnection): Promise<Probe | undefined> {
  const [host, port] = splitAddress(connection.address);
  const tls = typeof connection.tls === 'object' ? connection.tls : {};
  return new Promise((resolve) => {
    const settle = (result: Probe | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const socket = tlsConnect({
      host,
      port,
      ALPNProtocols: ['h2'],
      // Plaintext connections only ask "does this server speak TLS at all?".
      rejectUnauthorized: Boolean(connection.tls),
      ...(tls.serverNameOverride
        ? { servername: tls.serverNameOverride }
        : isIp(host)
          ? {}
          : { servername: host }),
      ...(tls.serverRootCACertificate ? { ca: Buffer.from(tls.serverRootCACertificate) } : {}),
      ...(tls.clientCertPair
        ? { cert: Buffer.from(tls.clientCertPair.crt), key: Buffer.from(tls.clientCertPair.key) }
        : {}),
    });
    const timer = setTimeout(() => settle(undefined), PROBE_TIMEOUT_MS);
    // A TLS 1.3 server judges the client certificate after the handshake, so only its first frames say "accepted".
    socket.once('secureConnect', () => socket.write(H2_PREFACE));
    socket.once('data', () => settle({ ok: true, speaksTls: true }));
    socket.once('end', () => settle({ ok: false, speaksTls: true, message: 'closed by the server' }));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const refused = ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT'].includes(error.code ?? '');
      const text = `${error.code ?? ''} ${error.message}`;
      settle(
        refused
          ? undefined
          : { ok: false, speaksTls: !NOT_TLS.test(text), code: error.code ?? '', message: error.message },
      );
    });
  });
}

function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at), Number(address.slice(at + 1))];
}

const isIp = (host: string) => /^[\d.]+$|:/.test(host);

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0]!;
}
