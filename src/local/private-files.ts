/**
 * Files at rest hold prompts, agent outputs and checkpoints: directories TAO
 * creates for them are owner-only (0700) and their files 0600, as a3s's own
 * store does. `mkdir` leaves an existing directory's mode alone, so one made
 * by an older TAO (or by hand) is tightened too.
 */
import { chmod, mkdir } from 'node:fs/promises';

export const PRIVATE_FILE_MODE = 0o600;

/** Creates `dirs` (parents included) if needed and makes each one owner-only. */
export async function ensurePrivateDirs(...dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
  }
}
