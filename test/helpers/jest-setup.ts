import { Console } from 'node:console';

// The lockfile pins an AWS SDK release that supports Node 20; its notice about future releases is noise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// Jest decorates console output with stack locations; keep captured CLI output clean.
global.console = new Console({ stdout: process.stdout, stderr: process.stderr });

afterEach(() => {
  // A failing oclif command sets process.exitCode; do not let it leak into jest's own exit status.
  process.exitCode = undefined;
});
