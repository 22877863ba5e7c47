/**
 * `backup encrypt SRC DST` through the built CLI: the round trip decrypt -> encrypt (new passphrase) ->
 * verify -> decrypt is byte-identical for every object; --kms (two keys of the in-repo AWS KMS emulator)
 * writes an ENCRYPTION-INFO keyed by SHA-256 of each key ID that each KMS opens alone; --cmek writes a
 * chain entry; already-encrypted input and mixed key kinds are refused.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeEncryptionInfo } from '../../src/keys/encryption-info';
import { start, type AwsKmsEmulator } from '../emulators/aws-kms-server';
import { runCli } from '../helpers/cli';
import { describeShared, testdata } from '../helpers/shared';
import { hashTree, listFiles as files } from '../helpers/tree';
import { INCOMPLETE_MARKER as MARKER } from '../../src/engines/markers';

const FULL = '2025/11/20-101500.00';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const AKID = 'AKIAEMULATOR0001';
const KEY_A = 'arn:aws:kms:us-east-1:111122223333:key/encrypt-test-a';
const KEY_B = 'alias/encrypt-test-b';

let dir: string;
let kms: AwsKmsEmulator;
let clear: string;
const p = (...xs: string[]) => path.join(dir, ...xs);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** SHA-256 of every file under root, by relative path. */
const hashes = (root: string): Record<string, string> => Object.fromEntries(hashTree(root));

function kmsUri(key: string): string {
  return `aws-kms:///${key}?REGION=us-east-1&AWS_ENDPOINT=${encodeURIComponent(kms.endpoint)}&AWS_ACCESS_KEY_ID=${AKID}&AWS_SECRET_ACCESS_KEY=${encodeURIComponent(SECRET)}`;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crdb-cmek-encrypt-'));
  fs.writeFileSync(p('old.txt'), 'collection pass 1\n');
  fs.writeFileSync(p('new.txt'), 'a brand new passphrase\n');
  kms = await start();
  kms.createKey(KEY_A);
  kms.createKey(KEY_B);
});
afterAll(async () => {
  await kms.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describeShared('backup encrypt', () => {
  beforeAll(async () => {
    clear = p('clear');
    const r = await runCli(['backup', 'decrypt', testdata('collections', 'passphrase'), clear, '--passphrase-file', p('old.txt')]);
    expect(r.code).toBe(0);
  });

  test('round trip with a new passphrase: encrypt, verify ok, decrypt again byte-identical', async () => {
    const before = hashes(clear);
    const enc = p('enc-pass');
    const e = await runCli(['backup', 'encrypt', clear, enc, '--passphrase-file', p('new.txt'), '--json']);
    expect(e.stderr).toBe('');
    expect(e.code).toBe(0);
    const doc = JSON.parse(e.stdout);
    expect(doc.keyScheme).toEqual({ source: 'cleartext', target: 'passphrase' });
    expect(doc.objects.written).toBe(files(clear).length - 2); // the two -CHECKSUMs are recomputed, not copied
    expect(hashes(clear)).toEqual(before); // SRC untouched

    const got = files(enc);
    expect(got).toContain(`${FULL}/ENCRYPTION-INFO`);
    expect(got.filter((f) => f.includes('ENCRYPTION-INFO'))).toEqual([`${FULL}/ENCRYPTION-INFO`]); // incrementals have none
    expect(got).not.toContain(MARKER);
    // Passphrase form: exactly 0x12 0x10 + a new 16-byte salt (not the source's).
    const info = fs.readFileSync(path.join(enc, FULL, 'ENCRYPTION-INFO'));
    expect(info.length).toBe(18);
    expect(info.subarray(0, 2).toString('hex')).toBe('1210');
    expect(info.equals(fs.readFileSync(testdata('collections', 'passphrase', FULL, 'ENCRYPTION-INFO')))).toBe(false);
    // Every object that must be ciphertext is; cleartext-by-design ones are copied verbatim.
    for (const f of got) {
      const head = fs.readFileSync(path.join(enc, f)).subarray(0, 8).toString('latin1');
      const clearByDesign = /ENCRYPTION-INFO|LATEST|BACKUP-LOCK|-CHECKSUM$/.test(f);
      expect([f, head === 'encrypt\x02']).toEqual([f, !clearByDesign]);
    }
    for (const f of got.filter((x) => x.endsWith('-CHECKSUM'))) {
      const base = fs.readFileSync(path.join(enc, f.slice(0, -'-CHECKSUM'.length)));
      expect(fs.readFileSync(path.join(enc, f)).toString('hex')).toBe(sha(base).slice(0, 8));
    }

    const v = await runCli(['backup', 'verify', enc, '--passphrase-file', p('new.txt'), '--json']);
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout).status).toBe('ok');
    const wrong = await runCli(['backup', 'verify', enc, '--passphrase-file', p('old.txt')]);
    expect(wrong.code).toBe(3);

    const again = p('clear-again');
    const d = await runCli(['backup', 'decrypt', enc, again, '--passphrase-file', p('new.txt')]);
    expect(d.code).toBe(0);
    expect(hashes(again)).toEqual(before);
  });

  test('--kms twice: one data key wrapped by both, map keyed by SHA-256 of each key ID; each KMS opens it alone', async () => {
    const enc = p('enc-kms');
    const e = await runCli(['backup', 'encrypt', clear, enc, '--kms', kmsUri(KEY_A), '--kms', kmsUri(KEY_B), '--json']);
    expect(e.code).toBe(0);
    expect(e.stdout + e.stderr).not.toContain(SECRET);
    expect(JSON.parse(e.stdout).keyScheme.target).toBe(`kms (${KEY_A}, ${KEY_B})`);
    const info = decodeEncryptionInfo(fs.readFileSync(path.join(enc, FULL, 'ENCRYPTION-INFO')));
    expect(info.salt).toBeUndefined();
    const keys = info.kmsEntries.map((x) => x.keyHash.toString('hex')).sort();
    expect(keys).toEqual([sha(Buffer.from(KEY_A)), sha(Buffer.from(KEY_B))].sort());
    for (const k of [KEY_A, KEY_B]) {
      const v = await runCli(['backup', 'verify', enc, '--kms', kmsUri(k), '--json']);
      expect([k, v.code]).toEqual([k, 0]);
      expect(JSON.parse(v.stdout).status).toBe('ok');
    }
    const other = await runCli(['backup', 'verify', enc, '--kms', kmsUri('alias/not-used')]);
    expect(other.code).toBe(3);
    const back = p('clear-from-kms');
    expect((await runCli(['backup', 'decrypt', enc, back, '--kms', kmsUri(KEY_B)])).code).toBe(0);
    expect(hashes(back)).toEqual(hashes(clear));
  });

  test('a disabled KMS key exits 3 naming the key and the reason, before anything is written', async () => {
    const dst = p('enc-disabled');
    kms.disableKey(KEY_B);
    try {
      const r = await runCli(['backup', 'encrypt', clear, dst, '--kms', kmsUri(KEY_A), '--kms', kmsUri(KEY_B)]);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(KEY_B);
      expect(r.stderr).toMatch(/Disabled/);
      expect(r.stderr).not.toContain(SECRET);
      expect(files(dst)).toEqual([]);
    } finally {
      kms.enableKey(KEY_B);
    }
  });

  test('--cmek (file CMEK, AES-128 store key): a chain entry that verify opens through the CMEK', async () => {
    const cmekFile = p('cmek.key');
    expect((await runCli(['keys', 'generate', cmekFile, '--size', '256'])).code).toBe(0);
    const enc = p('enc-cmek');
    const e = await runCli(['backup', 'encrypt', clear, enc, '--cmek', `file://${cmekFile}`, '--store-key-size', '128']);
    expect(e.stderr).toBe('');
    expect(e.code).toBe(0);
    expect(files(enc)).toContain('crdb-cmek/STORE-KEY');
    const v = await runCli(['backup', 'verify', enc, '--cmek', `file://${cmekFile}`, '--json']);
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout).status).toBe('ok');
  });

  test('an already-encrypted source is refused (exit 2), nothing written', async () => {
    const dst = p('enc-of-enc');
    const r = await runCli(['backup', 'encrypt', testdata('collections', 'passphrase'), dst, '--passphrase-file', p('new.txt')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already encrypted/);
    expect(files(dst)).toEqual([]);
  });

  test('one encrypted object planted in a cleartext backup is refused by name; DST stays marked incomplete', async () => {
    const src = p('clear-planted');
    for (const f of files(clear)) {
      fs.mkdirSync(path.dirname(path.join(src, f)), { recursive: true });
      fs.copyFileSync(path.join(clear, f), path.join(src, f));
    }
    const victim = `${FULL}/data/1003.sst`;
    fs.copyFileSync(testdata('collections', 'passphrase', victim), path.join(src, victim));
    const dst = p('enc-planted');
    const r = await runCli(['backup', 'encrypt', src, dst, '--passphrase-file', p('new.txt')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(victim);
    expect(r.stderr).toMatch(/already encrypted/);
    expect(files(dst)).toContain(MARKER);
    expect(files(dst)).not.toContain(victim);
  });

  test('a passphrase and --kms together, or no target at all, are usage errors', async () => {
    const both = await runCli(['backup', 'encrypt', clear, p('x1'), '--passphrase-file', p('new.txt'), '--kms', kmsUri(KEY_A)]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/cannot be combined/);
    const none = await runCli(['backup', 'encrypt', clear, p('x2')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no target key/);
    expect(files(p('x1'))).toEqual([]);
    expect(files(p('x2'))).toEqual([]);
  });
});
