// `node -r ./swc-register.js entry.ts`: compiles TypeScript on require with swc,
// so a test can run TAO's sources in a child process without a build step.
// ts-node --transpile-only takes ~5 s to start a worker; this takes ~1.5 s.
// Type checking is `tsc --noEmit`'s job. Pair with --enable-source-maps for TS stack traces.
const { readFileSync } = require('node:fs');
const { transformSync } = require('@swc/core');

require.extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(readFileSync(filename, 'utf8'), {
    filename,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  });
  module._compile(code, filename);
};
