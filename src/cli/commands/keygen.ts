import type { Command } from 'commander';
import { generateKeyLine } from '../../codec';

export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .description(
      'print a new payload-encryption key line (<id>:<base64>) for a key file or TAO_ENCRYPTION_KEYS; the first key encrypts, all decrypt',
    )
    .argument('<id>', 'key id stored in each payload, e.g. 2026-11')
    .action((id: string) => console.log(generateKeyLine(id)));
}
