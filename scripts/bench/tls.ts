/**
 * How soon a wrong TLS setting is answered: `tao worker` and `tao run`, with
 * each of the mistakes test/connection/secure-connection.test.ts checks the
 * line of, against a TLS-terminating proxy that requires a client certificate,
 * in front of the bench's dev server; from spawn to exit. docs/deploy.md
 * promises the one line within 15 s.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tao } from '../../test/support/cli';
import { startGrpcProxy } from '../../test/support/grpc-proxy';
import { makeTestPki } from '../../test/support/tls';
import { TLS_MISTAKES, tlsCommands } from '../../test/support/tls-mistakes';

export interface TlsFailureTime {
  mistake: string;
  command: string;
  ms: number;
}

export async function tlsFailureTimes(target: string): Promise<TlsFailureTime[]> {
  const pki = makeTestPki();
  const proxy = await startGrpcProxy({
    target,
    serverCert: pki.serverCert,
    serverKey: pki.serverKey,
    clientCa: pki.caCert,
  });
  const spec = join(pki.dir, 'spec.json');
  writeFileSync(
    spec,
    JSON.stringify({
      workflow: 'parallel',
      input: { specs: [{ taskId: 'a', agent: 'explore', prompt: 'a' }] },
    }),
  );
  const times: TlsFailureTime[] = [];
  try {
    for (const mistake of TLS_MISTAKES) {
      for (const args of tlsCommands(spec)) {
        const start = performance.now();
        const run = await tao(args, { env: mistake.env(pki, proxy.address), timeoutMs: 120_000 });
        const ms = performance.now() - start;
        const line = run.stderr.trim();
        if (run.code !== 1 || !mistake.fix.test(line)) {
          throw new Error(`tls: ${mistake.name}, tao ${args[0]}: exit ${run.code}, ${line}`);
        }
        times.push({ mistake: mistake.name, command: `tao ${args[0]}`, ms });
      }
    }
  } finally {
    await proxy.close();
    pki.remove();
  }
  return times;
}
