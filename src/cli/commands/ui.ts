import type { Command } from 'commander';
import { connectClient, createOutcomeStore, resolveConnection } from '../../client';
import { type WorkerFlags, payloadSettings, resolveWorkerConfig } from '../../config/worker-config';
import type { UiServer } from '../../ui/server';
import { DEFAULT_UI_PORT as TEMPORAL_UI_PORT } from '../local-defaults';
import { connectionOptions, parsePort, repeated, storeOption } from '../options';
import { withStore } from './checkpoint';

export const DEFAULT_TAO_UI_PORT = 8234;

interface UiFlags extends WorkerFlags {
  store?: string;
  port: number;
  host: string;
  authToken?: string;
  temporalUi: string;
  allowedHost: string[];
}

/** The token for a non-loopback `tao ui`: the flag, else the env, which keeps it out of `ps`. */
export const uiAuthToken = (flag?: string) => flag ?? process.env.TAO_UI_AUTH_TOKEN;

/** The line that tells a person where the page is, with the token they open it with when there is one. */
export const uiBanner = (server: UiServer, token?: string) =>
  `TAO UI at ${server.url}/${token ? ' (open it as <url>/#/runs?token=<the auth token>)' : ''}`;

export function registerUi(program: Command): void {
  storeOption(connectionOptions(program.command('ui')))
    .description(
      'serve a web page of TAO runs (steps, live output and transcripts from --store, inbox, steering) until Ctrl-C',
    )
    .option('--port <port>', 'port to listen on', parsePort, DEFAULT_TAO_UI_PORT)
    .option('--host <address>', 'address to listen on; other than loopback needs --auth-token', '127.0.0.1')
    .option('--auth-token <token>', 'required on every API call; prefer the env [env TAO_UI_AUTH_TOKEN]')
    .option(
      '--allowed-host <name>',
      'a name a TLS proxy serves the page under, e.g. tao-ui.example.com (repeatable)',
      repeated,
      [],
    )
    .option(
      '--temporal-ui <url>',
      "the Temporal Web UI steps' events link to",
      `http://localhost:${TEMPORAL_UI_PORT}`,
    )
    .action(async (flags: UiFlags) => {
      const authToken = uiAuthToken(flags.authToken);
      const { refuseOpenAddress, startUiServer } = await import('../../ui/server');
      refuseOpenAddress(flags.host, authToken);
      // Steps' transcripts are read from the store the workers write them to, as `tao transcript` reads them;
      // batch runs' outcomes from the outcome store beside it, as `tao results` reads them.
      await withStore(flags, async (store, ref) => {
        const outcomes = createOutcomeStore(ref);
        const client = await connectClient({
          connection: resolveConnection(flags),
          payloads: payloadSettings(resolveWorkerConfig(flags)),
        });
        try {
          const server = await startUiServer({
            client,
            store,
            outcomes,
            port: flags.port,
            host: flags.host,
            temporalUiUrl: flags.temporalUi,
            allowedHosts: flags.allowedHost,
            ...(authToken ? { authToken } : {}),
          });
          console.error(`${uiBanner(server, authToken)}; Ctrl-C stops it`);
          await new Promise<void>((resolve) => {
            process.once('SIGINT', resolve);
            process.once('SIGTERM', resolve);
          });
          await server.close();
        } finally {
          await Promise.all([client.connection.close(), outcomes.close?.()]);
        }
      });
    });
}
