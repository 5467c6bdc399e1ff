import type { Command } from 'commander';
import { ensureTemporalBinaries, taoHome } from '../../local/temporal-binaries';
import { fields } from '../render';

export function registerSetup(program: Command): void {
  program
    .command('setup')
    .description(
      `make sure the Temporal CLI and test server exist (installing them under ${taoHome()} if needed)`,
    )
    .action(() => {
      const binaries = ensureTemporalBinaries();
      console.log(
        fields([
          ['temporal', binaries.cli],
          ['temporal-test-server', binaries.testServer],
        ]),
      );
    });
}
