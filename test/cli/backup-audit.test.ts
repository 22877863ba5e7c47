/**
 * backup audit through the built CLI: a clean collection passes with per-object SHA-256 evidence; planted
 * plaintext (SST, manifest, SST behind a fake header), secrets in cleartext objects, an object readable
 * without the key, and other ways around the CMEK each fail with the right finding; the revocation drill
 * passes only while the emulator key is disabled.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { runCli } from '../helpers/cli';
import { copyTree, hashTree, makeCollection, sampleSst, startKmsFixtures, type KmsFixtures, type MadeCollection } from '../helpers/make-collection';
import { encryptBuffer } from '../../src/format/chunked';
import { encodeManifest, emptyManifest } from '../../src/backup/manifest';

const PASS = 'audit test passphrase 1';
let tmp: string;
let fx: KmsFixtures;
let base: MadeCollection;
let n = 0;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crdb-cmek-audit-'));
  fx = await startKmsFixtures(tmp);
  base = await makeCollection(path.join(tmp, 'base'), { kind: 'passphrase', passphrase: PASS }, { fulls: 2 });
});
afterAll(async () => {
  await fx.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const env = () => ({ ...fx.env, PASS });
const audit = (args: string[]) => runCli(['backup', 'audit', ...args, '--json'], { env: env() });

function json(r: { stdout: string; stderr: string; code: number }): any {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
}

/** A copy of the clean passphrase collection to damage. */
function copy(): string {
  const root = path.join(tmp, `copy-${++n}`);
  copyTree(base.root, root);
  return root;
}

const full = () => base.fulls[0];
const kinds = (j: any, p: string) => j.problems.filter((x: any) => x.path === p).map((x: any) => x.kind);

describe('backup audit', () => {
  test('a clean collection passes; the evidence has time, tool, key IDs, counts and a SHA-256 per object', async () => {
    const reportJson = path.join(tmp, 'evidence.json');
    const reportMd = path.join(tmp, 'evidence.md');
    const r = await audit([base.root, '--passphrase-env', 'PASS', '--report', reportJson]);
    expect(r.code).toBe(0);
    const j = json(r);
    expect(j.status).toBe('ok');
    expect(j.problems).toEqual([]);
    expect(j.tool).toMatch(/^crdb-cmek \d/);
    expect(Date.parse(j.finishedAt)).not.toBeNaN();
    const hashes = hashTree(base.root);
    expect(j.objects.map((o: any) => o.path)).toEqual([...hashes.keys()]);
    for (const o of j.objects) expect(o.sha256).toBe(hashes.get(o.path));
    expect(j.summary.ciphertext).toBe(base.ciphertext.length);
    expect(j.summary.openedWithoutKey).toBe(0);
    expect(j.summary.triedWithoutKey).toBe(base.ciphertext.length);
    expect(j.summary.openedWithKey).toBe(base.ciphertext.length);
    expect(j.keys.dataKeys).toHaveLength(2);
    expect(j.keys.dataKeys[0].fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(r.stdout).not.toContain(PASS);
    for (const k of base.dataKeys.values()) expect(r.stdout).not.toContain(k.toString('hex'));
    expect(JSON.parse(fs.readFileSync(reportJson, 'utf8')).objects).toHaveLength(hashes.size);
    expect((await runCli(['backup', 'audit', base.root, '--report', reportMd], { env: env() })).code).toBe(0);
    expect(fs.readFileSync(reportMd, 'utf8')).toContain(hashes.get(base.latestKey)!);
  });

  test('a wrong passphrase is a key error (exit 3)', async () => {
    const r = await runCli(['backup', 'audit', base.root, '--passphrase-env', 'WRONG', '--json'], { env: { ...env(), WRONG: 'not it' } });
    expect(r.code).toBe(3);
    expect(json(r).status).toBe('key-error');
  });

  test('a planted cleartext SST is not-encrypted', async () => {
    const root = copy();
    const key = `${full()}/data/1001.sst`;
    fs.writeFileSync(path.join(root, key), base.plaintexts.get(key)!);
    const r = await audit([root]);
    expect(r.code).toBe(1);
    const p = json(r).problems.find((x: any) => x.path === key);
    expect(p.kind).toBe('not-encrypted');
    expect(p.detail).toMatch(/RocksDB table footer magic/);
  });

  test('a plaintext (gzip) manifest is not-encrypted', async () => {
    const root = copy();
    const key = `${full()}/BACKUP_MANIFEST`;
    fs.writeFileSync(path.join(root, key), gzipSync(encodeManifest(emptyManifest())));
    const j = json(await audit([root]));
    expect(j.status).toBe('failed');
    expect(j.problems.find((x: any) => x.path === key)?.detail).toMatch(/gzip magic/);
    expect(kinds(j, key)).toEqual(['not-encrypted']);
  });

  test('plaintext behind a forged "encrypt" header is caught by its signature and byte distribution', async () => {
    const root = copy();
    const key = `${full()}/data/1002.sst`;
    const plain = Buffer.concat([sampleSst('forged', 400)]);
    const forged = Buffer.concat([Buffer.from('encrypt'), Buffer.from([2]), crypto.randomBytes(12), plain, crypto.randomBytes(16)]);
    fs.writeFileSync(path.join(root, key), forged);
    const j = json(await audit([root]));
    const ps = j.problems.filter((x: any) => x.path === key);
    expect(ps.map((x: any) => x.kind)).toContain('not-encrypted');
    expect(ps.map((x: any) => x.detail).join(' ')).toMatch(/chi-square/);
  });

  test('an unknown format version and a truncated object', async () => {
    const root = copy();
    const a = `${full()}/data/1001.sst`;
    const b = `${full()}/BACKUP-STATISTICS`;
    const bytes = fs.readFileSync(path.join(root, a));
    bytes[7] = 9;
    fs.writeFileSync(path.join(root, a), bytes);
    const s = fs.readFileSync(path.join(root, b));
    fs.writeFileSync(path.join(root, b), s.subarray(0, 30));
    const j = json(await audit([root]));
    expect(kinds(j, a)).toEqual(['unsupported-version']);
    expect(kinds(j, b)).toContain('truncated');
  });

  test('raw key bytes appended to ENCRYPTION-INFO are secret-exposed', async () => {
    const root = copy();
    const key = `${full()}/ENCRYPTION-INFO`;
    fs.appendFileSync(path.join(root, key), base.dataKeys.get(full())!);
    const r = await audit([root, '--passphrase-env', 'PASS']);
    expect(r.code).toBe(1);
    const j = json(r);
    expect(kinds(j, key)).toContain('secret-exposed');
    expect(r.stdout).not.toContain(base.dataKeys.get(full())!.toString('hex'));
  });

  test('an ENCRYPTION-INFO entry that is a raw 32-byte key is secret-exposed, even without the key', async () => {
    const root = copy();
    const key = `${full()}/ENCRYPTION-INFO-2`;
    // field 3 entry { key: 32 bytes, value: 32 bytes }
    const entry = Buffer.concat([Buffer.from([0x0a, 32]), crypto.randomBytes(32), Buffer.from([0x12, 32]), crypto.randomBytes(32)]);
    fs.writeFileSync(path.join(root, key), Buffer.concat([Buffer.from([0x1a, entry.length]), entry]));
    const j = json(await audit([root]));
    expect(j.problems.find((x: any) => x.path === key && x.kind === 'secret-exposed')?.detail).toMatch(/too short to be a wrapped key/);
  });

  test('a LATEST holding more than a path, and the passphrase in a lock file, are secret-exposed', async () => {
    const root = copy();
    fs.appendFileSync(path.join(root, base.latestKey), `\npassphrase=${PASS}\n`);
    const lock = `${full()}/BACKUP-LOCK-1100`;
    fs.writeFileSync(path.join(root, lock), `lock ${PASS}`);
    const j = json(await audit([root, '--passphrase-env', 'PASS']));
    expect(kinds(j, base.latestKey)).toContain('secret-exposed');
    expect(j.problems.filter((x: any) => x.path === lock).map((x: any) => x.detail).join(' ')).toMatch(/contains the passphrase/);
  });

  test('an object encrypted with an all-zero key is readable-without-key', async () => {
    const root = copy();
    const key = `${full()}/data/1001.sst`;
    fs.writeFileSync(path.join(root, key), encryptBuffer(Buffer.alloc(32), base.plaintexts.get(key)!));
    const j = json(await audit([root, '--passphrase-env', 'PASS']));
    expect(kinds(j, key)).toEqual(expect.arrayContaining(['readable-without-key', 'authentication-failed']));
  });

  test('--report with an unknown extension is a usage error', async () => {
    expect((await audit([base.root, '--report', path.join(tmp, 'x.txt')])).code).toBe(2);
  });
});

describe('backup audit --cmek and the revocation drill', () => {
  let uri: string;
  let chain: MadeCollection;

  beforeAll(async () => {
    const aws = fx.get('aws-kms');
    uri = aws.createKey('audit');
    chain = await makeCollection(path.join(tmp, 'chain'), { kind: 'cmek', cmek: aws.open(uri) }, { fulls: 2 });
  });

  test('the CMEK is the only way in: clean (exit 0), and the chain opens now', async () => {
    const r = await audit([chain.root, '--cmek', uri]);
    expect(r.code).toBe(0);
    const j = json(r);
    expect(j.keys.cmek.state).toBe('opens');
    expect(j.keys.storeKeys).toHaveLength(1);
    expect(j.keys.encryptionInfo.every((e: any) => e.entries.every((x: any) => x.kind === 'cmek-store-key'))).toBe(true);
    expect(j.summary.openedWithKey).toBe(chain.ciphertext.length);
  });

  test('--expect-revoked fails while the key is enabled (cmek-not-revoked)', async () => {
    const r = await audit([chain.root, '--cmek', uri, '--expect-revoked']);
    expect(r.code).toBe(1);
    expect(json(r).problems.map((x: any) => x.kind)).toContain('cmek-not-revoked');
  });

  test('--expect-revoked passes while the key is disabled, recording the reason; normal audit then exits 3', async () => {
    const aws = fx.get('aws-kms');
    aws.revoke(uri);
    try {
      const report = path.join(tmp, 'drill.json');
      const r = await audit([chain.root, '--cmek', uri, '--expect-revoked', '--report', report]);
      expect(r.code).toBe(0);
      const j = json(r);
      expect(j.mode).toBe('revocation-drill');
      expect(j.revocation.refused).toBe(true);
      expect(j.revocation.reason).toMatch(/DisabledException/);
      expect(j.summary.openedWithoutKey).toBe(0);
      expect(JSON.parse(fs.readFileSync(report, 'utf8')).revocation.reason).toMatch(/DisabledException/);
      const normal = await runCli(['backup', 'audit', chain.root, '--cmek', uri], { env: env() });
      expect(normal.code).toBe(3);
      expect(normal.stderr).toMatch(/the CMEK refused: DisabledException/);
    } finally {
      aws.restore(uri);
    }
    expect((await audit([chain.root, '--cmek', uri])).code).toBe(0);
  });

  test('another way in is a cmek-bypass finding: a native KMS entry, a store key still wrapped by an old CMEK', async () => {
    const aws = fx.get('aws-kms');
    const native = aws.createKey('native');
    const root = path.join(tmp, 'bypass');
    const made = await makeCollection(root, { kind: 'cmek', cmek: aws.open(uri), nativeKms: [aws.open(native)] });
    let j = json(await audit([root, '--cmek', uri]));
    expect(j.status).toBe('failed');
    expect(j.problems.filter((x: any) => x.kind === 'cmek-bypass').map((x: any) => x.path)).toEqual([`${made.fulls[0]}/ENCRYPTION-INFO`]);
    // Move the chain of the clean collection to a new CMEK without retiring the old one.
    const root2 = path.join(tmp, 'bypass2');
    copyTree(chain.root, root2);
    const next = aws.createKey('next');
    expect((await runCli(['backup', 'rewrap', root2, '--cmek', uri, '--to-cmek', next, '--all'], { env: env() })).code).toBe(0);
    j = json(await audit([root2, '--cmek', next]));
    expect(j.problems.map((x: any) => [x.path, x.kind])).toEqual([['crdb-cmek/STORE-KEY', 'cmek-bypass']]);
  });

  test('a passphrase collection audited with --cmek: salts are a way around the CMEK, and it is a key error', async () => {
    const r = await audit([base.root, '--cmek', uri]);
    expect(r.code).toBe(3);
  });
});
