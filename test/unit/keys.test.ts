/**
 * Keys: the passphrase KDF, data-key files, store-key files, passphrase sources, secret file writing,
 * and ENCRYPTION-INFO encode/decode (with the shared collections' files).
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UsageError } from '../../src/errors';
import {
  decodeEncryptionInfo,
  encodeEncryptionInfo,
  EncryptionInfoDecodeError,
  kmsEncryptionInfo,
  kmsMapKey,
  nextEncryptionInfoName,
  passphraseEncryptionInfo,
  readEncryptionInfos,
} from '../../src/keys/encryption-info';
import { parseDataKey, readDataKeyFile } from '../../src/keys/keyfile';
import { deriveKeyFromPassphrase } from '../../src/keys/passphrase';
import { resolvePassphrase } from '../../src/keys/sources';
import { encodeStoreKey, generateStoreKey, keyIdHex, parseStoreKeyFile } from '../../src/keys/store-key';
import { writeSecretFile } from '../../src/keys/write-key-file';
import { LocalStore } from '../../src/storage/local';
import { describeShared, expected, testdata } from '../helpers/shared';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crdb-cmek-keys-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describeShared('passphrase KDF (shared vector)', () => {
  test('PBKDF2-HMAC-SHA256, 64000 iterations, gives EXPECTED.json.kdf.key_hex', async () => {
    const { kdf } = expected();
    expect(kdf.iterations).toBe(64000);
    const key = await deriveKeyFromPassphrase(kdf.passphrase, Buffer.from(kdf.salt_hex, 'hex'));
    expect(key.toString('hex')).toBe(kdf.key_hex);
  });
});

describe('passphrase KDF', () => {
  test('UTF-8 bytes of the passphrase; salt matters', async () => {
    const salt = Buffer.alloc(16, 1);
    const a = await deriveKeyFromPassphrase('pässwörd', salt);
    expect(a.length).toBe(32);
    expect((await deriveKeyFromPassphrase('pässwörd', Buffer.alloc(16, 2))).equals(a)).toBe(false);
    const { pbkdf2Sync } = await import('node:crypto');
    expect(pbkdf2Sync(Buffer.from('pässwörd', 'utf8'), salt, 64000, 32, 'sha256').equals(a)).toBe(true);
  });
});

describe('data-key files', () => {
  const key = randomBytes(32);
  test.each([
    ['binary', key],
    ['hex', Buffer.from(key.toString('hex'))],
    ['hex + \\n', Buffer.from(`${key.toString('hex')}\n`)],
    ['HEX + \\r\\n', Buffer.from(`${key.toString('hex').toUpperCase()}\r\n`)],
  ])('accepts %s', async (_n, content) => {
    expect(parseDataKey(content).equals(key)).toBe(true);
    const f = path.join(tmp, `k-${Math.random()}`);
    fs.writeFileSync(f, content);
    expect((await readDataKeyFile(f)).equals(key)).toBe(true);
  });
  test.each([
    ['31 bytes', randomBytes(31)],
    ['33 bytes', randomBytes(33)],
    ['63 hex', Buffer.from('a'.repeat(63))],
    ['64 non-hex', Buffer.from('g'.repeat(64))],
    ['hex + two newlines', Buffer.from(`${'ab'.repeat(32)}\n\n`)],
    ['empty', Buffer.alloc(0)],
  ])('refuses %s with a UsageError that does not echo the content', (_n, content) => {
    let err: unknown;
    try {
      parseDataKey(content);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/32 bytes.*64 hexadecimal/);
    if (content.length > 8) expect((err as Error).message).not.toContain(content.toString('latin1'));
  });
  test('a missing file is a UsageError', async () => {
    await expect(readDataKeyFile(path.join(tmp, 'nope'))).rejects.toBeInstanceOf(UsageError);
  });
});

describe('store-key files', () => {
  test.each([128, 192, 256] as const)('%i-bit keys: 32-byte ID + key, round trip', (bits) => {
    const k = generateStoreKey(bits);
    const file = encodeStoreKey(k);
    expect(file.length).toBe(32 + bits / 8);
    expect(file.subarray(0, 32).equals(k.id)).toBe(true);
    const back = parseStoreKeyFile(file);
    expect(back.id.equals(k.id)).toBe(true);
    expect(back.key.equals(k.key)).toBe(true);
    expect(keyIdHex(back)).toBe(file.subarray(0, 32).toString('hex'));
    expect(keyIdHex(back)).toMatch(/^[0-9a-f]{64}$/);
  });
  test('two generated keys differ', () => {
    const a = generateStoreKey();
    const b = generateStoreKey();
    expect(a.id.equals(b.id) || a.key.equals(b.key)).toBe(false);
  });
  test.each([0, 32, 47, 49, 55, 57, 63, 65, 96])('refuses a %i-byte file', (n) => {
    expect(() => parseStoreKeyFile(Buffer.alloc(n))).toThrow(UsageError);
  });
});

describe('passphrase sources', () => {
  test('file, with one trailing newline or CRLF stripped', async () => {
    for (const [content, want] of [
      ['secret one\n', 'secret one'],
      ['secret two\r\n', 'secret two'],
      ['no newline', 'no newline'],
      ['keeps inner\nlines\n\n', 'keeps inner\nlines\n'],
    ]) {
      const f = path.join(tmp, `p-${Math.random()}`);
      fs.writeFileSync(f, content);
      expect(await resolvePassphrase({ passphraseFile: f })).toBe(want);
    }
  });
  test('environment variable', async () => {
    expect(await resolvePassphrase({ passphraseEnv: 'PP', env: { PP: 'from env' } })).toBe('from env');
    await expect(resolvePassphrase({ passphraseEnv: 'PP', env: {} })).rejects.toThrow(/PP is not set/);
    await expect(resolvePassphrase({ passphraseEnv: 'PP', env: { PP: '' } })).rejects.toThrow(/empty/);
  });
  test('nothing given (and no TTY) is a UsageError; so is an empty file or both flags', async () => {
    const empty = path.join(tmp, 'empty');
    fs.writeFileSync(empty, '\n');
    await expect(resolvePassphrase({ prompt: process.stdin.isTTY ? false : true })).rejects.toBeInstanceOf(UsageError);
    await expect(resolvePassphrase({ passphraseFile: empty })).rejects.toThrow(/empty/);
    await expect(resolvePassphrase({ passphraseFile: empty, passphraseEnv: 'X' })).rejects.toBeInstanceOf(UsageError);
    await expect(resolvePassphrase({ passphraseFile: path.join(tmp, 'missing') })).rejects.toBeInstanceOf(UsageError);
  });
});

describe('writeSecretFile', () => {
  test('mode 0600, refuses to overwrite without force, replaces with force, leaves no temp files', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'w-'));
    const f = path.join(dir, 'store.key');
    await writeSecretFile(f, Buffer.from('one'));
    expect(fs.statSync(f).mode & 0o777).toBe(0o600);
    await expect(writeSecretFile(f, Buffer.from('two'))).rejects.toBeInstanceOf(UsageError);
    expect(fs.readFileSync(f, 'utf8')).toBe('one');
    await writeSecretFile(f, Buffer.from('three'), { force: true });
    expect(fs.readFileSync(f, 'utf8')).toBe('three');
    expect(fs.statSync(f).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dir)).toEqual(['store.key']);
  });
  test('a missing directory is a UsageError', async () => {
    await expect(writeSecretFile(path.join(tmp, 'no', 'such', 'f'), Buffer.from('x'))).rejects.toBeInstanceOf(UsageError);
  });
});

describe('ENCRYPTION-INFO', () => {
  test('passphrase form encodes to exactly 0x12 0x10 + salt and decodes back', () => {
    const salt = randomBytes(16);
    const enc = encodeEncryptionInfo(passphraseEncryptionInfo(salt));
    expect(enc.equals(Buffer.concat([Buffer.from([0x12, 0x10]), salt]))).toBe(true);
    const back = decodeEncryptionInfo(enc);
    expect(back.scheme).toBe(0);
    expect(back.salt?.equals(salt)).toBe(true);
    expect(back.encryptedDataKeyByKMSMasterKeyID.size).toBe(0);
  });
  test('KMS form: raw 32-byte SHA-256 map keys (not UTF-8 safe) round-trip', () => {
    const ids = ['arn:aws:kms:us-east-1:1:key/x', 'alias/y', 'projects/p/locations/l/keyRings/r/cryptoKeys/k'];
    const wrapped = ids.map(() => randomBytes(100));
    const info = kmsEncryptionInfo(ids.map((id, i) => [id, wrapped[i]]));
    const back = decodeEncryptionInfo(encodeEncryptionInfo(info));
    expect(back.salt).toBeUndefined();
    expect(back.kmsEntries.length).toBe(3);
    ids.forEach((id, i) => {
      const k = kmsMapKey(id);
      expect(k.length).toBe(32);
      expect(back.encryptedDataKeyByKMSMasterKeyID.get(k.toString('hex'))?.equals(wrapped[i])).toBe(true);
      expect(back.kmsEntries[i].keyHash.equals(k)).toBe(true);
    });
  });
  test('garbage is refused with EncryptionInfoDecodeError', () => {
    expect(() => decodeEncryptionInfo(Buffer.from([0x12, 0x40, 1, 2]))).toThrow(EncryptionInfoDecodeError);
    expect(() => decodeEncryptionInfo(Buffer.from([0x08, 0x05]))).toThrow(/scheme 5/);
  });
  test('nextEncryptionInfoName', () => {
    expect(nextEncryptionInfoName([])).toBe('ENCRYPTION-INFO');
    expect(nextEncryptionInfoName(['a/b/ENCRYPTION-INFO'])).toBe('ENCRYPTION-INFO-2');
    expect(nextEncryptionInfoName(['ENCRYPTION-INFO', 'ENCRYPTION-INFO-2', 'BACKUP_MANIFEST'])).toBe('ENCRYPTION-INFO-3');
    expect(nextEncryptionInfoName(['ENCRYPTION-INFO', 'ENCRYPTION-INFO-10', 'ENCRYPTION-INFO-9'])).toBe('ENCRYPTION-INFO-11');
  });
  test('readEncryptionInfos lists newest first, ignoring look-alikes and subdirectories', async () => {
    const root = fs.mkdtempSync(path.join(tmp, 'store-'));
    const store = new LocalStore(root);
    const info = (n: number) => encodeEncryptionInfo(passphraseEncryptionInfo(Buffer.alloc(16, n)));
    await store.write('full/ENCRYPTION-INFO', info(1));
    await store.write('full/ENCRYPTION-INFO-2', info(2));
    await store.write('full/ENCRYPTION-INFO-10', info(10));
    await store.write('full/ENCRYPTION-INFO-x', info(99));
    await store.write('full/ENCRYPTION-INFO-2-CHECKSUM', info(98));
    await store.write('full/sub/ENCRYPTION-INFO-3', info(97));
    const got = await readEncryptionInfos(store, 'full');
    expect(got.map((g) => g.key)).toEqual(['full/ENCRYPTION-INFO-10', 'full/ENCRYPTION-INFO-2', 'full/ENCRYPTION-INFO']);
    expect(got.map((g) => g.info.salt?.[0])).toEqual([10, 2, 1]);
    expect(await readEncryptionInfos(store, 'nothing/here')).toEqual([]);
  });
});

describeShared('ENCRYPTION-INFO of the shared collections', () => {
  const exp = expected();
  const full = (c: string) => exp.collections[c].full.replace(/^\//, '');

  test('passphrase collection: salt decodes and the passphrase derives a key', async () => {
    const store = new LocalStore(testdata('collections', 'passphrase'));
    const infos = await readEncryptionInfos(store, full('passphrase'));
    expect(infos.length).toBe(1);
    const raw = await store.read(infos[0].key);
    expect(raw.subarray(0, 2).equals(Buffer.from([0x12, 0x10]))).toBe(true);
    expect(encodeEncryptionInfo(infos[0].info).equals(raw)).toBe(true);
    expect(infos[0].info.salt?.length).toBe(16);
  });

  test('kms collection: ENCRYPTION-INFO-2 first with the third key; ENCRYPTION-INFO has the first two', async () => {
    const store = new LocalStore(testdata('collections', 'kms'));
    const infos = await readEncryptionInfos(store, full('kms'));
    expect(infos.map((i) => path.basename(i.key))).toEqual(['ENCRYPTION-INFO-2', 'ENCRYPTION-INFO']);
    const ids = Object.keys(exp.collections.kms.kms_keys);
    const hex = (id: string) => createHash('sha256').update(id).digest('hex');
    expect([...infos[1].info.encryptedDataKeyByKMSMasterKeyID.keys()].sort()).toEqual([hex(ids[0]), hex(ids[1])].sort());
    expect([...infos[0].info.encryptedDataKeyByKMSMasterKeyID.keys()]).toContain(hex(ids[2]));
    for (const i of infos) {
      expect(i.info.salt).toBeUndefined();
      for (const e of i.info.kmsEntries) expect(e.keyHash.length).toBe(32);
      // Re-encoding gives the same bytes.
      expect(encodeEncryptionInfo(i.info).equals(await store.read(i.key))).toBe(true);
    }
  });
});
