#!/usr/bin/env node
// Thin launcher so `npx tao` / `npm link` run the compiled CLI.
require('../dist/client.js').main(process.argv);
