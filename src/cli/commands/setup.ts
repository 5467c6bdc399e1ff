import type { Command } from 'commander';
import type { ConnectionFlags } from '../../connection/settings';
import { registerWaitingAttribute } from '../../connection/waiting-attribute';
import { ensureTemporalBinaries, taoHome } from '../../local/temporal-binaries';
import { WAITING_STEPS_ATTRIBUTE } from '../../workflows/lib/waiting-attribute';
import { clientFromFlags, connectionOptions } from '../options';
import { fields } from '../render';

export function registerSetup(program: Command): void {
  connectionOptions(program.command('setup'))
    .description(
      `make sure the Temporal CLI and test server exist (installing them under ${taoHome()} if needed); given --address or --profile, register instead the search attribute ${WAITING_STEPS_ATTRIBUTE} that \`tao pending\` reads, on that server's namespace`,
    )
    .action(async (flags: ConnectionFlags) => {
      if (flags.address === undefined && flags.profile === undefined) {
        const binaries = ensureTemporalBinaries();
        console.log(
          fields([
            ['temporal', binaries.cli],
            ['temporal-test-server', binaries.testServer],
          ]),
        );
        return;
      }
      const client = await clientFromFlags(flags);
      try {
        const done = await registerWaitingAttribute(client.connection, client.options.namespace);
        console.log(
          `${done === 'registered' ? 'registered' : 'already registered:'} search attribute ${WAITING_STEPS_ATTRIBUTE} (KeywordList) in namespace ${client.options.namespace}`,
        );
      } finally {
        await client.connection.close();
      }
    });
}
