import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CmekRefusedError,
  DATA_KEY_ENTRY_BYTES,
  STORE_KEY_OBJECT_PATTERN,
  chainAad,
  dataKeyAad,
  decodeStoreKeyObject,
  encodeDataKeyEnvelope,
  encodeStoreKeyObjectBody,
  storeKeyAad,
  storeKeyObjectMac,
  findDataKeyViaChain,
  generateStoreKey,
  getOrCreateStoreKey,
  gcmSeal,
  readStoreKeyObjects,
  rewrapStoreKey,
  rotateStoreKey,
  storeKeyEncryptionInfo,
  storeKeyEntryId,
  storeKeyEntryMapKey,
  storeKeyIdHex,
  unwrapDataKey,
  unwrapStoreKey,
  wrapDataKey,
  wrapStoreKey,
  writeStoreKeyObject,
} from '../../src/chain';
import { IntegrityError, KeyError, UsageError } from '../../src/errors';
import { encodeStoreKey, type StoreKey } from '../../src/keys/store-key';
import {
  decodeEncryptionInfo,
  encodeEncryptionInfo,
  kmsMapKey,
  readEncryptionInfos,
} from '../../src/keys/encryption-info';
import { openKms, type KmsProvider } from '../../src/kms';
import { LocalStore } from '../../src/storage/local';
import { decryptBuffer, encryptBuffer } from '../../src/format/chunked';
import { start, type AwsKmsEmulator } from '../emulators/aws-kms-server';

let tmp: string;
const BACKUP = '2025/11/20-101500.00';
const OTHER = '2025/11/21-101500.00';

/** A file CMEK (a CockroachDB store-key file made with our generateStoreKey) opened through openKms. */
function fileCmek(bits: 128 | 192 | 256 = 256, name = `cmek-${bits}-${crypto.randomBytes(4).toString('hex')}.key`): KmsProvider {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, encodeStoreKey(generateStoreKey(bits)), { mode: 0o600 });
  return openKms(`file://${file}`);
}

function newStore(): LocalStore {
  return new LocalStore(fs.mkdtempSync(path.join(tmp, 'coll-')));
}

/** True when any 8-byte window of secret occurs in haystack. */
function leaks(haystack: Buffer, secret: Buffer): boolean {
  for (let i = 0; i + 8 <= secret.length; i++) if (haystack.includes(secret.subarray(i, i + 8))) return true;
  return false;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'chain-test-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('store-key object', () => {
  test.each([128, 192, 256] as const)('wrap/unwrap round trip, store key AES-%i', async (bits) => {
    for (const cmekBits of [128, 256] as const) {
      const cmek = fileCmek(cmekBits);
      const sk = generateStoreKey(bits);
      expect(sk.key.length).toBe(bits / 8);
      const obj = await wrapStoreKey(cmek, sk, { now: new Date('2025-11-20T10:15:00.123Z') });
      const back = await unwrapStoreKey(cmek, obj);
      expect(back.id.equals(sk.id)).toBe(true);
      expect(back.key.equals(sk.key)).toBe(true);
      const d = decodeStoreKeyObject(obj);
      expect(d.version).toBe(1);
      expect(d.storeKeySize).toBe(bits / 8);
      expect(d.storeKeyId.toString('hex')).toBe(storeKeyIdHex(sk));
      expect(d.cmekProvider).toBe('file');
      expect(d.cmekKeyId).toBe(cmek.keyId);
      expect(d.createdAt.toISOString()).toBe('2025-11-20T10:15:00.123Z');
      expect(obj.subarray(0, 10).toString('latin1')).toBe('CRDBCMEKS\u0001');
      // No secret in the clear: neither the store key nor any 8-byte piece of it.
      expect(leaks(obj, sk.key)).toBe(false);
    }
  });

  test('flipping any byte of the object makes it fail to open', async () => {
    const cmek = fileCmek(256);
    const sk = generateStoreKey(128);
    const obj = await wrapStoreKey(cmek, sk);
    for (let i = 0; i < obj.length; i++) {
      const bad = Buffer.from(obj);
      bad[i] ^= 0x01;
      const e = await rejection(unwrapStoreKey(cmek, bad));
      expect(e instanceof KeyError || e instanceof IntegrityError).toBe(true);
    }
    // Fields outside the CMEK's AAD (creation time) are caught by the MAC: a tamper error, not a refusal.
    const timeByte = 10 + 1 + 32 + 7;
    const bad = Buffer.from(obj);
    bad[timeByte] ^= 0x01;
    const e = await rejection(unwrapStoreKey(cmek, bad));
    expect(e).toBeInstanceOf(IntegrityError);
    expect(e.message).toMatch(/tampered/);
    // Truncation and trailing bytes.
    expect(await rejection(unwrapStoreKey(cmek, obj.subarray(0, obj.length - 1)))).toBeInstanceOf(IntegrityError);
    expect(await rejection(unwrapStoreKey(cmek, Buffer.concat([obj, Buffer.from([0])])))).toBeInstanceOf(IntegrityError);
  });

  test('the wrong CMEK fails with a KeyError naming both key IDs', async () => {
    const right = fileCmek(256);
    const wrong = fileCmek(256);
    const obj = await wrapStoreKey(right, generateStoreKey(256));
    const e = await rejection(unwrapStoreKey(wrong, obj));
    expect(e).toBeInstanceOf(KeyError);
    expect(e.message).toBe(`the CMEK ${wrong.keyId} does not match the store-key object (it was wrapped by ${right.keyId})`);
  });

  test('a CMEK with the right ID but other key material: "the CMEK refused" with its reason', async () => {
    const file = path.join(tmp, 'same-id.key');
    const a = generateStoreKey(256);
    fs.writeFileSync(file, encodeStoreKey(a));
    const cmek = openKms(`file://${file}`);
    const obj = await wrapStoreKey(cmek, generateStoreKey(256));
    fs.writeFileSync(file, encodeStoreKey({ id: a.id, key: crypto.randomBytes(32) }));
    const impostor = openKms(`file://${file}`);
    const e = await rejection(unwrapStoreKey(impostor, obj));
    expect(e).toBeInstanceOf(CmekRefusedError);
    expect(e.message).toMatch(/^the CMEK refused: .*AuthenticationFailed/);
    expect((e as KeyError).exitCode).toBe(3);
  });

  test('versions are written beside each other, never overwritten, read newest first', async () => {
    const store = newStore();
    const cmek = fileCmek();
    const one = await wrapStoreKey(cmek, generateStoreKey(256));
    const two = await wrapStoreKey(cmek, generateStoreKey(256));
    expect(await writeStoreKeyObject(store, one)).toBe('crdb-cmek/STORE-KEY');
    expect(await writeStoreKeyObject(store, two)).toBe('crdb-cmek/STORE-KEY-2');
    expect((await store.read('crdb-cmek/STORE-KEY')).equals(one)).toBe(true);
    const all = await readStoreKeyObjects(store);
    expect(all.map((o) => o.key)).toEqual(['crdb-cmek/STORE-KEY-2', 'crdb-cmek/STORE-KEY']);
    expect(all.every((o) => STORE_KEY_OBJECT_PATTERN.test(o.key))).toBe(true);
    expect(STORE_KEY_OBJECT_PATTERN.test('crdb-cmek/STORE-KEY-0')).toBe(false);
    // Not a store-key object: refused before anything is written.
    expect(await rejection(writeStoreKeyObject(store, Buffer.from('hello')))).toBeInstanceOf(IntegrityError);
    expect((await readStoreKeyObjects(store)).length).toBe(2);
  });
});

describe('data-key entries', () => {
  const sk: StoreKey = generateStoreKey(192);
  const dataKey = crypto.randomBytes(32);

  test('round trip; 70-byte versioned envelope with no data key in the clear', () => {
    const entry = wrapDataKey(sk, dataKey, BACKUP);
    expect(entry.length).toBe(DATA_KEY_ENTRY_BYTES);
    expect(entry.subarray(0, 10).toString('latin1')).toBe('CRDBCMEKD\u0001');
    expect(leaks(entry, dataKey)).toBe(false);
    expect(leaks(entry, sk.key)).toBe(false);
    expect(unwrapDataKey(sk, entry, BACKUP).equals(dataKey)).toBe(true);
    // The identity is normalized: leading/trailing slashes do not matter.
    expect(unwrapDataKey(sk, entry, `/${BACKUP}/`).equals(dataKey)).toBe(true);
    // Fresh nonce each time.
    expect(wrapDataKey(sk, dataKey, BACKUP).equals(entry)).toBe(false);
  });

  test('moving an entry to another backup fails', () => {
    const entry = wrapDataKey(sk, dataKey, BACKUP);
    const e = thrown(() => unwrapDataKey(sk, entry, OTHER));
    expect(e).toBeInstanceOf(IntegrityError);
    expect(e.message).toMatch(/moved from another backup/);
  });

  test('swapping the level fails (same key, same IDs, level "store-key")', () => {
    const swapped = chainAad(1, 'store-key', [sk.id, Buffer.from(BACKUP)]);
    expect(swapped.equals(dataKeyAad({ storeKeyId: sk.id, backupDir: BACKUP }))).toBe(false);
    const { nonce, ciphertext, tag } = gcmSeal(sk.key, dataKey, swapped);
    const forged = encodeDataKeyEnvelope({ version: 1, nonce, ciphertext, tag });
    expect(thrown(() => unwrapDataKey(sk, forged, BACKUP))).toBeInstanceOf(IntegrityError);
    // Control: the same construction with the right level opens.
    const ok = gcmSeal(sk.key, dataKey, dataKeyAad({ storeKeyId: sk.id, backupDir: BACKUP }));
    expect(unwrapDataKey(sk, encodeDataKeyEnvelope({ version: 1, ...ok }), BACKUP).equals(dataKey)).toBe(true);
  });

  test('flipping any byte, another store key, or another store key ID fails', () => {
    const entry = wrapDataKey(sk, dataKey, BACKUP);
    for (let i = 0; i < entry.length; i++) {
      const bad = Buffer.from(entry);
      bad[i] ^= 0x80;
      expect(thrown(() => unwrapDataKey(sk, bad, BACKUP))).toBeInstanceOf(IntegrityError);
    }
    expect(thrown(() => unwrapDataKey(generateStoreKey(192), entry, BACKUP))).toBeInstanceOf(IntegrityError);
    expect(thrown(() => unwrapDataKey({ id: crypto.randomBytes(32), key: sk.key }, entry, BACKUP))).toBeInstanceOf(IntegrityError);
  });

  test('entry ID and map key', () => {
    const hex = storeKeyIdHex(sk);
    expect(storeKeyEntryId(hex)).toBe(`crdb-cmek-store-key:${hex}`);
    expect(storeKeyEntryMapKey(hex).equals(crypto.createHash('sha256').update(`crdb-cmek-store-key:${hex}`).digest())).toBe(true);
    expect(() => storeKeyEntryId(hex.toUpperCase())).toThrow(RangeError);
  });
});

describe('the chain through a collection', () => {
  test('encryption info with a store-key entry beside a native KMS entry stays a valid EncryptionInfo', async () => {
    const native = fileCmek(256); // stands in for a native KMS: encrypts the raw key, no aad
    const sk = generateStoreKey(256);
    const dataKey = crypto.randomBytes(32);
    const nativeWrapped = await native.encrypt(dataKey);
    const bytes = encodeEncryptionInfo(storeKeyEncryptionInfo(sk, dataKey, BACKUP, [[native.keyId, nativeWrapped]]));
    // Wire form: field 3 entries only, each {bytes key = 1 (32 raw bytes); bytes value = 2}.
    expect(bytes[0]).toBe(0x1a);
    const info = decodeEncryptionInfo(bytes);
    expect(info.scheme).toBe(0);
    expect(info.salt).toBeUndefined();
    expect(info.kmsEntries.length).toBe(2);
    expect(info.kmsEntries.every((e) => e.keyHash.length === 32)).toBe(true);
    expect(info.encryptedDataKeyByKMSMasterKeyID.get(kmsMapKey(native.keyId).toString('hex'))!.equals(nativeWrapped)).toBe(true);
    // The native path opens exactly as CockroachDB would (raw KMS decrypt, no aad) ...
    expect((await native.decrypt(info.encryptedDataKeyByKMSMasterKeyID.get(kmsMapKey(native.keyId).toString('hex'))!)).equals(dataKey)).toBe(true);
    // ... and the chain path opens through the store-key entry.
    const entry = info.encryptedDataKeyByKMSMasterKeyID.get(storeKeyEntryMapKey(storeKeyIdHex(sk)).toString('hex'))!;
    expect(unwrapDataKey(sk, entry, BACKUP).equals(dataKey)).toBe(true);
    // Re-encoding what we decoded is byte-identical.
    expect(encodeEncryptionInfo(info).equals(bytes)).toBe(true);
  });

  async function makeBackup(store: LocalStore, cmek: KmsProvider, dir: string): Promise<{ dataKey: Buffer; sst: Buffer }> {
    const { storeKey } = await getOrCreateStoreKey(store, cmek);
    const dataKey = crypto.randomBytes(32);
    await store.write(`${dir}/ENCRYPTION-INFO`, encodeEncryptionInfo(storeKeyEncryptionInfo(storeKey, dataKey, dir)));
    const sst = encryptBuffer(dataKey, Buffer.from(`table data of ${dir}`));
    await store.write(`${dir}/data/1.sst`, sst);
    return { dataKey, sst };
  }

  async function open(store: LocalStore, cmek: KmsProvider, dir: string) {
    return findDataKeyViaChain(store, cmek, await readEncryptionInfos(store, dir), dir);
  }

  test('one store key per collection; CMEK -> store key -> data key -> data', async () => {
    const store = newStore();
    const cmek = fileCmek(128);
    const a = await makeBackup(store, cmek, BACKUP);
    const b = await makeBackup(store, cmek, OTHER);
    expect((await readStoreKeyObjects(store)).length).toBe(1);
    const found = await open(store, cmek, BACKUP);
    expect(found.dataKey.equals(a.dataKey)).toBe(true);
    expect(found.infoKey).toBe(`${BACKUP}/ENCRYPTION-INFO`);
    expect(decryptBuffer(found.dataKey, await store.read(`${BACKUP}/data/1.sst`)).toString()).toBe(`table data of ${BACKUP}`);
    expect((await open(store, cmek, OTHER)).dataKey.equals(b.dataKey)).toBe(true);
    // The store-key object holds neither the store key nor any data key.
    const obj = await store.read('crdb-cmek/STORE-KEY');
    const sk = (await getOrCreateStoreKey(store, cmek)).storeKey;
    expect(leaks(obj, sk.key) || leaks(obj, a.dataKey) || leaks(obj, b.dataKey)).toBe(false);
    // An ENCRYPTION-INFO moved from another backup does not open here.
    await store.write(`${OTHER}/ENCRYPTION-INFO-2`, await store.read(`${BACKUP}/ENCRYPTION-INFO`));
    const moved = await open(store, cmek, OTHER); // the genuine entry still opens
    expect(moved.infoKey).toBe(`${OTHER}/ENCRYPTION-INFO`);
    await store.delete(`${OTHER}/ENCRYPTION-INFO`);
    expect(await rejection(open(store, cmek, OTHER))).toBeInstanceOf(IntegrityError);
    // The wrong CMEK and a collection without a chain are KeyErrors.
    const wrong = fileCmek(128);
    expect((await rejection(open(store, wrong, BACKUP))).message).toMatch(/does not match the store-key object/);
    const empty = newStore();
    expect((await rejection(findDataKeyViaChain(empty, cmek, [], BACKUP))).message).toMatch(/no store-key object/);
  });

  test('rewrap to a new CMEK: O(1), data untouched, old path kept unless retired', async () => {
    const store = newStore();
    const oldCmek = fileCmek(256);
    const newCmek = fileCmek(192);
    const a = await makeBackup(store, oldCmek, BACKUP);
    const info1 = await store.read(`${BACKUP}/ENCRYPTION-INFO`);
    const r = await rewrapStoreKey(store, oldCmek, newCmek, { verifyBackupDirs: [BACKUP] });
    expect(r.written.map((w) => w.objectKey)).toEqual(['crdb-cmek/STORE-KEY-2']);
    expect(r.verified).toEqual([BACKUP]);
    expect(r.retired).toEqual([]);
    expect((await store.read(`${BACKUP}/data/1.sst`)).equals(a.sst)).toBe(true);
    expect((await store.read(`${BACKUP}/ENCRYPTION-INFO`)).equals(info1)).toBe(true);
    expect((await open(store, newCmek, BACKUP)).dataKey.equals(a.dataKey)).toBe(true);
    expect((await open(store, oldCmek, BACKUP)).dataKey.equals(a.dataKey)).toBe(true);
    // Retire: the old CMEK's version is deleted; the old CMEK no longer opens anything.
    const third = fileCmek(128);
    const r2 = await rewrapStoreKey(store, newCmek, third, { retireOld: true });
    expect(r2.retired).toEqual(['crdb-cmek/STORE-KEY-2']);
    expect((await open(store, third, BACKUP)).dataKey.equals(a.dataKey)).toBe(true);
    expect((await rejection(open(store, newCmek, BACKUP))).message).toMatch(/does not match the store-key object/);
    // The untouched first version still works for the first CMEK (it was never retired).
    expect((await open(store, oldCmek, BACKUP)).dataKey.equals(a.dataKey)).toBe(true);
  });

  test('rotate the store key: new ENCRYPTION-INFO-N per backup, nothing overwritten, retireOld', async () => {
    const store = newStore();
    const cmek = fileCmek(256);
    const a = await makeBackup(store, cmek, BACKUP);
    const b = await makeBackup(store, cmek, OTHER);
    const outside = '2025/11/22-101500.00';
    await makeBackup(store, cmek, outside);
    const oldId = (await open(store, cmek, BACKUP)).storeKeyId;
    const before = await store.read(`${BACKUP}/ENCRYPTION-INFO`);

    // Retiring while a backup outside the list depends on the old store key is refused, before any write.
    expect(await rejection(rotateStoreKey(store, cmek, [{ dir: BACKUP }, { dir: OTHER }], { retireOld: true }))).toBeInstanceOf(UsageError);
    expect((await readStoreKeyObjects(store)).length).toBe(1);
    expect(await store.stat(`${BACKUP}/ENCRYPTION-INFO-2`)).toBeUndefined();

    const r = await rotateStoreKey(store, cmek, [{ dir: BACKUP }, { dir: OTHER }], { bits: 128 });
    expect(r.storeKeyId).not.toBe(oldId);
    expect(r.objectKey).toBe('crdb-cmek/STORE-KEY-2');
    expect(r.written).toEqual([
      { dir: BACKUP, infoKey: `${BACKUP}/ENCRYPTION-INFO-2` },
      { dir: OTHER, infoKey: `${OTHER}/ENCRYPTION-INFO-2` },
    ]);
    expect((await store.read(`${BACKUP}/ENCRYPTION-INFO`)).equals(before)).toBe(true);
    expect((await store.read(`${BACKUP}/data/1.sst`)).equals(a.sst)).toBe(true);
    const viaNew = await open(store, cmek, BACKUP);
    expect(viaNew.storeKeyId).toBe(r.storeKeyId);
    expect(viaNew.infoKey).toBe(`${BACKUP}/ENCRYPTION-INFO-2`);
    expect(viaNew.dataKey.equals(a.dataKey)).toBe(true);
    expect((await open(store, cmek, OTHER)).dataKey.equals(b.dataKey)).toBe(true);
    expect(decodeStoreKeyObject(await store.read(r.objectKey)).storeKeySize).toBe(16);

    // A second rotation covering all three, retiring every older store key.
    const r2 = await rotateStoreKey(store, cmek, [{ dir: BACKUP }, { dir: OTHER }, { dir: outside }], { retireOld: true });
    expect(r2.written[0].infoKey).toBe(`${BACKUP}/ENCRYPTION-INFO-3`);
    expect(r2.retired.sort()).toEqual(['crdb-cmek/STORE-KEY', 'crdb-cmek/STORE-KEY-2']);
    const objs = await readStoreKeyObjects(store);
    expect(objs.map((o) => o.key)).toEqual(['crdb-cmek/STORE-KEY-3']);
    const found = await open(store, cmek, BACKUP);
    expect(found.storeKeyId).toBe(r2.storeKeyId);
    expect(found.dataKey.equals(a.dataKey)).toBe(true);
    // The old entries remain in ENCRYPTION-INFO and -2, but nothing can open them any more.
    expect((await readEncryptionInfos(store, BACKUP)).map((i) => i.key)).toEqual([
      `${BACKUP}/ENCRYPTION-INFO-3`,
      `${BACKUP}/ENCRYPTION-INFO-2`,
      `${BACKUP}/ENCRYPTION-INFO`,
    ]);
  });
});

describe('AWS KMS as the CMEK (in-repo emulator)', () => {
  let kms: AwsKmsEmulator;
  const KEY = 'arn:aws:kms:us-east-1:111122223333:key/chain-1';
  const OTHER_KEY = 'alias/other';
  const uri = (key: string) =>
    `aws-kms:///${key}?REGION=us-east-1&AWS_ENDPOINT=${encodeURIComponent(kms.endpoint)}&AWS_ACCESS_KEY_ID=AKIAEMULATOR0001&AWS_SECRET_ACCESS_KEY=emulatorsecret`;

  beforeAll(async () => {
    kms = await start();
    kms.createKey(KEY);
    kms.createKey(OTHER_KEY);
  });
  afterAll(async () => {
    await kms.stop();
  });

  test.each([128, 192, 256] as const)('round trip with store key AES-%i; AAD sent as the encryption context', async (bits) => {
    const cmek = openKms(uri(KEY));
    const sk = generateStoreKey(bits);
    const obj = await wrapStoreKey(cmek, sk);
    expect(kms.calls[kms.calls.length - 1].encryptionContext).toHaveProperty('crdb-cmek-aad');
    const back = await unwrapStoreKey(cmek, obj);
    expect(back.key.equals(sk.key)).toBe(true);
    expect(leaks(obj, sk.key)).toBe(false);
    expect(decodeStoreKeyObject(obj).cmekKeyId).toBe(KEY);
    // Flipping the store key ID changes the AAD: KMS refuses (InvalidCiphertextException).
    const bad = Buffer.from(obj);
    bad[20] ^= 1;
    const e = await rejection(unwrapStoreKey(cmek, bad));
    expect(e).toBeInstanceOf(KeyError);
    expect(e.message).toMatch(/InvalidCiphertext/);
    await cmek.close?.();
  });

  test('disabled key: "the CMEK refused: DisabledException"; re-enabled: opens again; wrong key named', async () => {
    const store = newStore();
    const cmek = openKms(uri(KEY));
    const { storeKey } = await getOrCreateStoreKey(store, cmek);
    const dataKey = crypto.randomBytes(32);
    await store.write(`${BACKUP}/ENCRYPTION-INFO`, encodeEncryptionInfo(storeKeyEncryptionInfo(storeKey, dataKey, BACKUP)));
    const infos = await readEncryptionInfos(store, BACKUP);
    kms.disableKey(KEY);
    const e = await rejection(findDataKeyViaChain(store, cmek, infos, BACKUP));
    expect(e).toBeInstanceOf(CmekRefusedError);
    expect(e.message).toMatch(/^the CMEK refused: DisabledException/);
    expect((e as CmekRefusedError).exitCode).toBe(3);
    expect(e.message).not.toContain('emulatorsecret');
    kms.enableKey(KEY);
    expect((await findDataKeyViaChain(store, cmek, infos, BACKUP)).dataKey.equals(dataKey)).toBe(true);
    const other = openKms(uri(OTHER_KEY));
    expect((await rejection(findDataKeyViaChain(store, other, infos, BACKUP))).message).toBe(
      `the CMEK ${OTHER_KEY} does not match the store-key object (it was wrapped by ${KEY})`,
    );
    // Rewrap from the file CMEK world to AWS and back is provider-agnostic.
    const file = fileCmek(256);
    await rewrapStoreKey(store, cmek, file);
    expect((await findDataKeyViaChain(store, file, infos, BACKUP)).dataKey.equals(dataKey)).toBe(true);
    await cmek.close?.();
    await other.close?.();
  });
});

describe('documented vectors (docs/key-chain.md; computed independently with Python hashlib/hmac/cryptography)', () => {
  const id = Buffer.alloc(32, 1);
  const key = Buffer.alloc(32, 2);
  const dir = '2025/11/20-101500.00';

  test('data-key AAD, entry and map key', () => {
    const aad = dataKeyAad({ storeKeyId: id, backupDir: dir });
    expect(aad.toString('hex')).toBe(
      '637264622d636d656b2d61616400010008646174612d6b6579002001010101010101010101010101010101010101010101010101010101010101010014323032352f31312f32302d3130313530302e3030',
    );
    const sealed = gcmSeal(key, Buffer.alloc(32, 3), aad, Buffer.alloc(12, 4));
    const entry = encodeDataKeyEnvelope({ version: 1, ...sealed });
    expect(entry.toString('hex')).toBe(
      '43524442434d454b4401040404040404040404040404074fd20dfd4893599e5dd4e3b5401aa518b1daca81289878bdc13bdac8b80adac19da4cfa436003b6328d024c348ac17',
    );
    expect(unwrapDataKey({ id, key }, entry, dir).equals(Buffer.alloc(32, 3))).toBe(true);
    expect(storeKeyEntryMapKey(id.toString('hex')).toString('hex')).toBe('bf413422aec3fb7192bb23bf4e6307c49e3ee1d49a66ffa1ba468582e5558847');
  });

  test('store-key AAD and object layout with its MAC', () => {
    expect(storeKeyAad({ storeKeyId: id, storeKeySize: 32, cmekProvider: 'aws-kms', cmekKeyId: 'alias/backups' }).toString('hex')).toBe(
      '637264622d636d656b2d6161640001000973746f72652d6b65790020010101010101010101010101010101010101010101010101010101010101010100012000076177732d6b6d73000d616c6961732f6261636b757073',
    );
    const body = encodeStoreKeyObjectBody({
      version: 1,
      storeKeySize: 32,
      storeKeyId: id,
      createdAt: new Date('2025-11-20T10:15:00.000Z'),
      cmekProvider: 'aws-kms',
      cmekKeyId: 'alias/backups',
      wrappedStoreKey: Buffer.alloc(5, 0xaa),
    });
    const obj = Buffer.concat([body, storeKeyObjectMac(key, body)]);
    expect(obj.toString('hex')).toBe(
      '43524442434d454b53012001010101010101010101010101010101010101010101010101010101010101010000019aa0c29ca0076177732d6b6d73000d616c6961732f6261636b75707300000005aaaaaaaaaa308434757d773cdb19b8820a8eabeb4f76b7269c3aa25191d2c049aac5a0cbf6',
    );
    const d = decodeStoreKeyObject(obj);
    expect(d.cmekKeyId).toBe('alias/backups');
    expect(d.wrappedStoreKey.equals(Buffer.alloc(5, 0xaa))).toBe(true);
  });
});
