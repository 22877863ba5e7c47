#!/usr/bin/env node
process.env.OCLIF_SKIP_NEW_VERSION_CHECK = 'true';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { execute } = require('@oclif/core');

execute({ dir: __dirname }).catch((err) => {
  // Last resort: never print a stack trace to users. Commands handle their own errors.
  const code = typeof err?.oclif?.exit === 'number' ? err.oclif.exit : 1;
  process.stderr.write(`Error: ${err && err.message ? err.message : String(err)}\n`);
  process.exit(code);
});
