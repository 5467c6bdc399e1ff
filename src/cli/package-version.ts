import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** TAO's version, read at run time: package.json sits outside the compiled tree (src/ and dist/ alike). */
export const packageVersion = (): string =>
  (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string })
    .version;
