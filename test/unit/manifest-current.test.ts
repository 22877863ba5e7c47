/**
 * oclif.manifest.json and the README's command reference are generated (`npm run manifest`); this test
 * fails when a command, flag or argument changed without regenerating them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../helpers/cli';

interface ManifestCommand {
  id: string;
  flags: Record<string, unknown>;
  args: Record<string, unknown>;
  summary?: string;
}

function commandFiles(dir: string, prefix: string[] = []): { id: string; file: string }[] {
  const out: { id: string; file: string }[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...commandFiles(path.join(dir, e.name), [...prefix, e.name]));
    else if (e.name.endsWith('.js')) out.push({ id: [...prefix, e.name.replace(/\.js$/, '')].join(':'), file: path.join(dir, e.name) });
  }
  return out;
}

describe('generated command reference', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, ManifestCommand> };
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const built = commandFiles(path.join(ROOT, 'dist', 'commands'));

  test('every built command is in the manifest and the README, and nothing else is', () => {
    expect(built.length).toBeGreaterThan(5);
    const ids = built.map((c) => c.id).sort();
    const inManifest = Object.keys(manifest.commands).filter((id) => id !== 'help').sort();
    expect(inManifest).toEqual(ids);
    for (const id of ids) expect(readme).toContain(`## \`crdb-cmek ${id.replace(/:/g, ' ')}`);
  });

  test("each command's flags, arguments and summary match the manifest", () => {
    for (const c of built) {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const cls = require(c.file).default as { flags?: Record<string, unknown>; baseFlags?: Record<string, unknown>; args?: Record<string, unknown>; summary?: string };
      const m = manifest.commands[c.id];
      const flags = Object.keys({ ...(cls.baseFlags ?? {}), ...(cls.flags ?? {}) }).sort();
      const manifestFlags = Object.keys(m.flags).sort();
      expect({ id: c.id, flags: manifestFlags.filter((f) => f !== 'json') }).toEqual({ id: c.id, flags: flags.filter((f) => f !== 'json') });
      expect({ id: c.id, args: Object.keys(m.args).sort() }).toEqual({ id: c.id, args: Object.keys(cls.args ?? {}).sort() });
      expect({ id: c.id, summary: m.summary }).toEqual({ id: c.id, summary: cls.summary });
    }
  });
});
