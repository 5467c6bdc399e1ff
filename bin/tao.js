#!/usr/bin/env node
// Thin launcher so `npx tao` / `npm link` run the compiled CLI.
require('../dist/cli/main.js').main(process.argv);
