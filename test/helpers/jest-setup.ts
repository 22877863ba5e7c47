import { Console } from 'node:console';

// Jest decorates console output with stack locations; keep captured CLI output clean.
global.console = new Console({ stdout: process.stdout, stderr: process.stderr });

afterEach(() => {
  // A failing oclif command sets process.exitCode; do not let it leak into jest's own exit status.
  process.exitCode = undefined;
});
