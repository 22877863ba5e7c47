#!/usr/bin/env node
process.env.OCLIF_SKIP_NEW_VERSION_CHECK = 'true';
// The AWS SDK warns on every start that its releases after January 2027 need Node 22; the lockfile pins
// a release that supports Node 20, so that notice is noise on stderr (which carries progress and errors).
if (process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED === undefined) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
}
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { execute } = require('@oclif/core');

execute({ dir: __dirname }).catch((err) => {
  // Last resort: never print a stack trace to users. Commands handle their own errors.
  const code = typeof err?.oclif?.exit === 'number' ? err.oclif.exit : 1;
  process.stderr.write(`Error: ${err && err.message ? err.message : String(err)}\n`);
  process.exit(code);
});
