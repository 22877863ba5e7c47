/**
 * `backup decrypt SRC DST` through the built CLI (run `npx tsc -p tsconfig.build.json` first):
 * the shared passphrase and KMS collections decrypt to the SHA-256s of EXPECTED.json, manifests stay
 * gzip protobuf with recomputed -CHECKSUMs, ENCRYPTION-INFO is dropped, LATEST is kept; a wrong key exits
 * 3 before anything is written; a damaged source exits 1 naming the object; damage found mid-run leaves
 * an incomplete (marked) destination that names itself and that verify reports as incomplete.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { runCli } from '../helpers/cli';
import { describeShared, expected, SHARED, testdata } from '../helpers/shared';
import { copyTree, listFiles as files } from '../helpers/tree';
import { INCOMPLETE_MARKER as MARKER } from '../../src/engines/markers';

let dir: string;
let passFile: string;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Checks a decrypted collection against EXPECTED.json's file list for `name`. */
function expectDecrypted(dst: string, name: 'passphrase' | 'kms'): void {
  const want = expected().collections[name].files as Record<string, { plaintext_sha256?: string; manifest_sha256_plain_proto?: string }>;
  const got = files(dst);
  for (const [rel, e] of Object.entries(want)) {
    const bytes = fs.readFileSync(path.join(dst, rel));
    if (e.plaintext_sha256) {
      expect([rel, sha(bytes)]).toEqual([rel, e.plaintext_sha256]);
    } else {
      // Manifests stay gzip-compressed protobuf, just decrypted.
      expect(bytes.subarray(0, 3).toString('hex')).toBe('1f8b08');
      expect([rel, sha(gunzipSync(bytes))]).toEqual([rel, e.manifest_sha256_plain_proto]);
      // -CHECKSUM recomputed over the new stored bytes.
      const ck = fs.readFileSync(path.join(dst, `${rel}-CHECKSUM`));
      expect(ck.toString('hex')).toBe(sha(bytes).slice(0, 8));
    }
  }
  expect(got.filter((f) => /ENCRYPTION-INFO/.test(f))).toEqual([]);
  expect(got).not.toContain(MARKER);
  // Nothing is left encrypted.
  for (const f of got) expect([f, fs.readFileSync(path.join(dst, f)).subarray(0, 7).toString('latin1')]).not.toEqual([f, 'encrypt']);
  // LATEST copied verbatim, BACKUP-LOCK kept.
  const latest = got.filter((f) => f.startsWith('metadata/latest/LATEST-'));
  expect(latest).toHaveLength(1);
  expect(fs.readFileSync(path.join(dst, latest[0]), 'utf8')).toBe(
    fs.readFileSync(testdata('collections', name, latest[0]), 'utf8'),
  );
  expect(got).toContain('2025/11/20-101500.00/BACKUP-LOCK-1100');
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crdb-cmek-decrypt-'));
  passFile = path.join(dir, 'pass.txt');
  fs.writeFileSync(passFile, 'collection pass 1\n');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describeShared('backup decrypt: the shared passphrase collection', () => {
  test('decrypts to the expected plaintext, restorable without encryption options', async () => {
    const dst = path.join(dir, 'pass-clear');
    const r = await runCli(['backup', 'decrypt', testdata('collections', 'passphrase'), dst, '--passphrase-file', passFile]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('decrypted 1 full backup');
    expectDecrypted(dst, 'passphrase');
    expect(r.stdout).not.toContain('collection pass 1');
  });

  test('--json prints one summary document; --progress goes to stderr', async () => {
    const dst = path.join(dir, 'pass-json');
    const r = await runCli(['backup', 'decrypt', testdata('collections', 'passphrase'), dst, '--passphrase-file', passFile, '--json', '--concurrency', '1', '--progress']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^decrypt: 13\/13 objects, /m);
    const doc = JSON.parse(r.stdout);
    expect(doc.status).toBe('ok');
    expect(doc.operation).toBe('backup decrypt');
    expect(doc.destination).toBe(dst);
    expect(doc.keyScheme).toEqual({ source: 'passphrase', target: 'cleartext' });
    expect(doc.objects).toMatchObject({ total: 13, written: 13, skipped: 0, checksums: 2, dropped: 1 });
    expect(doc.bytes.read).toBeGreaterThan(doc.bytes.written);
    expect(doc.latest).toHaveLength(1);
  });

  test('a wrong passphrase exits 3 and writes nothing', async () => {
    const wrong = path.join(dir, 'wrong.txt');
    fs.writeFileSync(wrong, 'not the passphrase\n');
    const dst = path.join(dir, 'wrong-dst');
    const r = await runCli(['backup', 'decrypt', testdata('collections', 'passphrase'), dst, '--passphrase-file', wrong]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/wrong passphrase or key/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(files(dst)).toEqual([]);
  });

  test('a non-empty destination is refused without --resume (exit 2)', async () => {
    const dst = path.join(dir, 'busy');
    fs.mkdirSync(dst);
    fs.writeFileSync(path.join(dst, 'something'), 'x');
    const r = await runCli(['backup', 'decrypt', testdata('collections', 'passphrase'), dst, '--passphrase-file', passFile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not empty/);
    expect(files(dst)).toEqual(['something']);
  });

  test('the corrupt collection exits 1 naming the damaged object, before writing anything', async () => {
    const dst = path.join(dir, 'corrupt-dst');
    const r = await runCli(['backup', 'decrypt', testdata('collections', 'corrupt'), dst, '--passphrase-file', passFile]);
    expect(r.code).toBe(1);
    const named = (expected().collections.corrupt.problems as { path: string; severity?: string }[])
      .filter((p) => p.severity !== 'warning')
      .map((p) => p.path);
    expect(named.some((p) => r.stderr.includes(p))).toBe(true);
    expect(files(dst)).toEqual([]);
  });

  test('damage found mid-run: exit 1 naming the object and DST, no partial object visible, verify says incomplete', async () => {
    const src = path.join(dir, 'damaged-src');
    copyTree(testdata('collections', 'passphrase'), src);
    const victim = '2025/11/20-101500.00/data/1002.sst';
    const buf = fs.readFileSync(path.join(src, victim));
    buf[buf.length - 100] ^= 0x01; // inside its (only) chunk: the manifest still authenticates
    fs.writeFileSync(path.join(src, victim), buf);
    const dst = path.join(dir, 'damaged-dst');
    const r = await runCli(['backup', 'decrypt', src, dst, '--passphrase-file', passFile, '--concurrency', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(victim);
    expect(r.stderr).toContain(dst);
    expect(r.stderr).toMatch(/--resume/);
    const got = files(dst);
    expect(got).toContain(MARKER);
    expect(got).not.toContain(victim);
    expect(got.filter((f) => f.includes('.crdb-cmek-tmp-'))).toEqual([]);
    // No manifest yet: nothing looks like a complete backup.
    expect(got.filter((f) => f.endsWith('BACKUP_MANIFEST'))).toEqual([]);
    const v = await runCli(['backup', 'verify', dst, '--json']);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/incomplete/);
  });
});

describeShared('backup decrypt: the shared KMS collection through the stand-in AWS KMS', () => {
  let kms: ChildProcess;
  let port: string;
  const kmsUri = (keyId: string) =>
    `aws-kms:///${keyId}?REGION=us-east-1&AUTH=specified&AWS_ACCESS_KEY_ID=x&AWS_SECRET_ACCESS_KEY=ysecretvalue&AWS_ENDPOINT=http://127.0.0.1:${port}`;

  beforeAll(async () => {
    const portFile = path.join(dir, 'fake-kms.port');
    kms = spawn(process.execPath, [path.join(SHARED, 'tools', 'fake-aws-kms.js'), testdata('collections', 'kms-keys.json'), portFile], {
      stdio: 'ignore',
    });
    for (let i = 0; i < 200 && !fs.existsSync(portFile); i++) await new Promise((r) => setTimeout(r, 25));
    port = fs.readFileSync(portFile, 'utf8').trim();
    expect(Number(port)).toBeGreaterThan(0);
  });
  afterAll(() => {
    kms?.kill();
  });

  test.each(Object.keys(expected().collections.kms.kms_keys))('decrypts with the key %s', async (keyId) => {
    const dst = path.join(dir, `kms-${createHash('sha1').update(keyId).digest('hex').slice(0, 8)}`);
    const r = await runCli(['backup', 'decrypt', testdata('collections', 'kms'), dst, '--kms', kmsUri(keyId)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expectDecrypted(dst, 'kms');
    expect(r.stdout).not.toContain('ysecretvalue');
  });

  test('an unknown key ID exits 3 and writes nothing', async () => {
    const dst = path.join(dir, 'kms-unknown');
    const r = await runCli(['backup', 'decrypt', testdata('collections', 'kms'), dst, '--kms', kmsUri('alias/not-in-the-backup')]);
    expect(r.code).toBe(3);
    expect(r.stderr).not.toContain('ysecretvalue');
    expect(files(dst)).toEqual([]);
  });
});
