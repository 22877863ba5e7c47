/** The tool's name and version, for reports and evidence. */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const pkg = require('../package.json') as { name: string; version: string };

export const TOOL = `${pkg.name} ${pkg.version}`;
