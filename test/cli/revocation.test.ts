/**
 * Revocation drills through the built CLI: with the CMEK disabled (or its permission revoked, or the key
 * deleted) in each emulator, every command that needs it exits 3 and says the CMEK refused, naming the
 * service's reason; re-enabling restores access with no other change.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli, type CliResult } from '../helpers/cli';
import { hashTree, makeCollection, startKmsFixtures, type KmsFixtures, type MadeCollection, type ProviderName } from '../helpers/make-collection';

let tmp: string;
let fx: KmsFixtures;
let n = 0;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crdb-cmek-revoke-'));
  fx = await startKmsFixtures(tmp);
});
afterAll(async () => {
  await fx.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const cli = (args: string[]) => runCli(args, { env: fx.env });

/** The service's reason for each way of revoking, as each emulator states it. */
const REASONS: Record<Exclude<ProviderName, 'file'>, Record<'disable' | 'deny' | 'delete', RegExp>> = {
  'aws-kms': { disable: /DisabledException/, deny: /AccessDeniedException/, delete: /KMSInvalidStateException/ },
  'gcp-kms': { disable: /FAILED_PRECONDITION.*DISABLED/, deny: /PERMISSION_DENIED/, delete: /FAILED_PRECONDITION.*DESTROYED/ },
  'vault-transit': { disable: /permission denied/, deny: /permission denied/, delete: /encryption key not found|not found/ },
};

/** Every command that needs the CMEK, as argv, for a collection. */
function commands(root: string, cmek: string, other: string): [string, string[]][] {
  return [
    ['backup verify', ['backup', 'verify', root, '--cmek', cmek, '--all']],
    ['backup inspect', ['backup', 'inspect', root, '--cmek', cmek, '--all']],
    ['backup decrypt', ['backup', 'decrypt', root, path.join(tmp, `out-${++n}`), '--cmek', cmek, '--all']],
    ['backup rewrap --to-cmek', ['backup', 'rewrap', root, '--cmek', cmek, '--to-cmek', other, '--all']],
    ['backup rewrap --new-store-key', ['backup', 'rewrap', root, '--cmek', cmek, '--new-store-key', '--all']],
    ['backup audit', ['backup', 'audit', root, '--cmek', cmek]],
    ['keys check', ['keys', 'check', cmek]],
  ];
}

function expectRefused(name: string, r: CliResult, reason: RegExp): void {
  const where = `${name}: exit ${r.code}\n${r.stderr}`;
  expect({ where, code: r.code }).toEqual({ where, code: 3 });
  expect(r.stderr).toMatch(/refused/);
  expect(r.stderr).toMatch(reason);
  expect(r.stderr).not.toMatch(/authentication failed|does not authenticate|wrong passphrase|internal error/i);
  expect(r.stderr).not.toMatch(/test-secret|ya29\.|hvs\./);
}

describe.each(['aws-kms', 'gcp-kms', 'vault-transit'] as const)('revoking a %s CMEK', (name) => {
  let made: MadeCollection;
  let cmek: string;
  let other: string;

  beforeAll(async () => {
    const f = fx.get(name);
    cmek = f.createKey('cmek');
    other = f.createKey('other');
    made = await makeCollection(path.join(tmp, `${name}-coll`), { kind: 'cmek', cmek: f.open(cmek) });
  });

  test.each(['disable', 'deny'] as const)('%s: every command exits 3 naming the refusal; nothing is written; re-enabling restores it', async (how) => {
    const f = fx.get(name);
    const before = hashTree(made.root);
    f.revoke(cmek, how);
    try {
      for (const [label, argv] of commands(made.root, cmek, other)) expectRefused(label, await cli(argv), REASONS[name][how]);
      expect(hashTree(made.root)).toEqual(before);
    } finally {
      f.restore(cmek);
    }
    for (const [label, argv] of commands(made.root, cmek, other)) {
      if (label.startsWith('backup rewrap')) continue; // would change the collection; proven in backup-rewrap.test.ts
      const r = await cli(argv);
      expect({ label, code: r.code, stderr: r.stderr }).toEqual({ label, code: 0, stderr: '' });
    }
    expect(hashTree(made.root)).toEqual(before);
  });

  test('a native KMS entry whose key is disabled: verify exits 3 naming the refusal', async () => {
    const f = fx.get(name);
    const native = f.createKey('native');
    const root = path.join(tmp, `${name}-native`);
    await makeCollection(root, { kind: 'kms', kms: [f.open(native)] }, { incremental: false });
    f.revoke(native);
    try {
      expectRefused('backup verify --kms', await cli(['backup', 'verify', root, '--kms', native]), REASONS[name].disable);
    } finally {
      f.restore(native);
    }
    expect((await cli(['backup', 'verify', root, '--kms', native])).code).toBe(0);
  });
});

describe('deleted keys', () => {
  test.each(['aws-kms', 'gcp-kms'] as const)('%s: a key scheduled for deletion / destroyed is refused with the reason (exit 3)', async (name) => {
    const f = fx.get(name);
    const cmek = f.createKey('doomed');
    const made = await makeCollection(path.join(tmp, `${name}-doomed`), { kind: 'cmek', cmek: f.open(cmek) }, { incremental: false });
    f.revoke(cmek, 'delete');
    expectRefused('backup verify', await cli(['backup', 'verify', made.root, '--cmek', cmek]), REASONS[name].delete);
    expectRefused('backup audit', await cli(['backup', 'audit', made.root, '--cmek', cmek]), REASONS[name].delete);
    const drill = await cli(['backup', 'audit', made.root, '--cmek', cmek, '--expect-revoked', '--json']);
    expect(drill.code).toBe(0);
    expect(JSON.parse(drill.stdout).revocation.reason).toMatch(REASONS[name].delete);
  });
});

describe('file CMEK', () => {
  test('a missing key file is a key error (exit 3) for verify, audit and keys check', async () => {
    const f = fx.get('file');
    const cmek = f.createKey('file');
    const made = await makeCollection(path.join(tmp, 'file-coll'), { kind: 'cmek', cmek: f.open(cmek) }, { incremental: false });
    f.revoke(cmek);
    try {
      for (const argv of [
        ['backup', 'verify', made.root, '--cmek', cmek],
        ['backup', 'audit', made.root, '--cmek', cmek],
        ['keys', 'check', cmek],
      ]) {
        const r = await cli(argv);
        expect({ argv: argv.join(' '), code: r.code }).toEqual({ argv: argv.join(' '), code: 3 });
        expect(r.stderr).toMatch(/file CMEK .* cannot be read: ENOENT/);
      }
    } finally {
      f.restore(cmek);
    }
    expect((await cli(['backup', 'verify', made.root, '--cmek', cmek])).code).toBe(0);
  });
});
