#!/usr/bin/env node
process.env.OCLIF_SKIP_NEW_VERSION_CHECK = 'true';
// The AWS SDK warns on every start that future releases need Node 22; the lockfile pins a release that
// supports Node 20, so that notice is noise on stderr (which carries progress and errors only).
const emitWarning = process.emitWarning;
process.emitWarning = function (warning, ...rest) {
  const type = warning && typeof warning === 'object' ? warning.name : typeof rest[0] === 'string' ? rest[0] : rest[0] && rest[0].type;
  if (type === 'NodeVersionSupportWarning') return;
  return emitWarning.call(process, warning, ...rest);
};
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { execute } = require('@oclif/core');

execute({ dir: __dirname }).catch((err) => {
  // Last resort: never print a stack trace to users. Commands handle their own errors.
  const code = typeof err?.oclif?.exit === 'number' ? err.oclif.exit : 1;
  process.stderr.write(`Error: ${err && err.message ? err.message : String(err)}\n`);
  process.exit(code);
});
