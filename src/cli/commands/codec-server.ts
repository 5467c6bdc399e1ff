import type { Command } from 'commander';
import { taoPayloadCodecs } from '../../codec';
import { startCodecServer } from '../../codec-server';
import { type WorkerFlags, payloadSettings, resolveWorkerConfig } from '../../config/worker-config';
import { parsePort, payloadOptions, repeated } from '../options';

interface CodecServerFlags extends WorkerFlags {
  port: number;
  host: string;
  corsOrigin: string[];
  authToken?: string;
}

export function registerCodecServer(program: Command): void {
  payloadOptions(
    program
      .command('codec-server')
      .description(
        "serve Temporal's remote codec protocol, so the Temporal CLI (--codec-endpoint) and Web UI show offloaded and encrypted payloads; until Ctrl-C",
      )
      .requiredOption('--port <port>', 'port to listen on', parsePort)
      .option('--host <address>', 'address to listen on (expose it only behind TLS and a token)', '127.0.0.1')
      .option(
        '--cors-origin <origin>',
        'a Web UI origin allowed to call it, e.g. http://localhost:8233 (repeatable)',
        repeated,
        [],
      )
      .option(
        '--auth-token <token>',
        'require Authorization: Bearer <token>; prefer the env [env TAO_CODEC_AUTH_TOKEN]',
      ),
  ).action(async (flags: CodecServerFlags) => {
    const authToken = flags.authToken ?? process.env.TAO_CODEC_AUTH_TOKEN;
    const server = await startCodecServer({
      codecs: taoPayloadCodecs(payloadSettings(resolveWorkerConfig(flags))),
      port: flags.port,
      host: flags.host,
      corsOrigins: flags.corsOrigin,
      ...(authToken ? { authToken } : {}),
    });
    console.error(
      `codec server at ${server.url} (${authToken ? 'token required' : 'no token'}); Ctrl-C stops it`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
  });
}
