/**
 * backup rewrap through the built CLI, per CMEK provider (file, AWS KMS, Google Cloud KMS, Vault Transit
 * emulators): move the chain to a new CMEK (data byte-identical, old CMEK refused after --retire-old),
 * rotate the store key, and add a native KMS entry that opens the data as CockroachDB would.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../helpers/cli';
import { describeShared, expected, testdata } from '../helpers/shared';
import {
  PROVIDERS,
  copyTree,
  hashTree,
  makeCollection,
  startKmsFixtures,
  type KmsFixtures,
  type MadeCollection,
} from '../helpers/make-collection';
import { decodeEncryptionInfo, kmsMapKey } from '../../src/keys/encryption-info';
import { decryptBuffer } from '../../src/format/chunked';
import { checkSst, bufferSource } from '../../src/backup/sst';
import { classifyObject } from '../../src/backup/classify';

let tmp: string;
let fx: KmsFixtures;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crdb-cmek-rewrap-'));
  fx = await startKmsFixtures(tmp);
});
afterAll(async () => {
  await fx.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const cli = (args: string[]) => runCli(args, { env: fx.env });
const dataHashes = (root: string) => hashTree(root, (k) => classifyObject(k) === 'ciphertext');

function json(r: { stdout: string; stderr: string; code: number }): any {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
}

describe.each(PROVIDERS)('backup rewrap with a %s CMEK', (name) => {
  let made: MadeCollection;
  let a: string;
  let b: string;
  let c: string;
  let before: Map<string, string>;

  beforeAll(async () => {
    const f = fx.get(name);
    a = f.createKey('a');
    b = f.createKey('b');
    c = f.createKey('c');
    made = await makeCollection(path.join(tmp, `${name}-coll`), { kind: 'cmek', cmek: f.open(a) }, { fulls: 2 });
    before = dataHashes(made.root);
  });

  test('the collection verifies through the original CMEK', async () => {
    const r = await cli(['backup', 'verify', made.root, '--cmek', a, '--all']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  test('--to-cmek: one new store-key object, data byte-identical, old and new CMEK both open it', async () => {
    const r = await cli(['backup', 'rewrap', made.root, '--cmek', a, '--to-cmek', b, '--all', '--json']);
    expect(r.code).toBe(0);
    const j = json(r);
    expect(j.written).toEqual(['crdb-cmek/STORE-KEY-2']);
    expect(j.retired).toEqual([]);
    expect(j.dataObjectsWritten).toBe(0);
    expect(j.backups.map((x: any) => x.dir)).toEqual(made.fulls);
    expect(j.keys.to[0].provider).toBe(name);
    expect(r.stdout).not.toMatch(/test-secret|ya29|hvs\./);
    expect(dataHashes(made.root)).toEqual(before);
    expect((await cli(['backup', 'verify', made.root, '--cmek', b, '--all'])).code).toBe(0);
    expect((await cli(['backup', 'verify', made.root, '--cmek', a, '--all'])).code).toBe(0);
  });

  test('--to-cmek --retire-old: the new CMEK opens everything, the retired CMEK is refused (exit 3)', async () => {
    const r = await cli(['backup', 'rewrap', made.root, '--cmek', a, '--to-cmek', c, '--all', '--retire-old', '--json']);
    expect(r.code).toBe(0);
    const j = json(r);
    expect(j.retired).toEqual(['crdb-cmek/STORE-KEY']);
    expect(fs.existsSync(path.join(made.root, 'crdb-cmek/STORE-KEY'))).toBe(false);
    expect(dataHashes(made.root)).toEqual(before);
    expect((await cli(['backup', 'verify', made.root, '--cmek', c, '--all'])).code).toBe(0);
    const old = await cli(['backup', 'verify', made.root, '--cmek', a, '--all']);
    expect(old.code).toBe(3);
    expect(old.stderr).toMatch(/does not match the store-key object/);
  });

  test('--new-store-key: a new ENCRYPTION-INFO-2 per full backup, nothing overwritten, verify works', async () => {
    const infoBefore = made.fulls.map((d) => fs.readFileSync(path.join(made.root, d, 'ENCRYPTION-INFO')));
    const r = await cli(['backup', 'rewrap', made.root, '--cmek', c, '--new-store-key', '--store-key-size', '128', '--all', '--json']);
    expect(r.code).toBe(0);
    const j = json(r);
    for (const d of made.fulls) expect(j.written).toContain(`${d}/ENCRYPTION-INFO-2`);
    expect(j.keys.storeKeys).toHaveLength(1);
    made.fulls.forEach((d, i) => expect(fs.readFileSync(path.join(made.root, d, 'ENCRYPTION-INFO')).equals(infoBefore[i])).toBe(true));
    expect(dataHashes(made.root)).toEqual(before);
    expect((await cli(['backup', 'verify', made.root, '--cmek', c, '--all'])).code).toBe(0);
  });

  test('--add-kms: ENCRYPTION-INFO-3 holds only the new entry; unwrap it as CockroachDB would and decrypt an SST', async () => {
    const f = fx.get(name);
    const native = f.createKey('native');
    const r = await cli(['backup', 'rewrap', made.root, '--cmek', c, '--add-kms', native, '--all', '--json']);
    expect(r.code).toBe(0);
    const j = json(r);
    const kms = f.open(native);
    expect(j.keys.to[0].mapKey).toBe(kmsMapKey(kms.keyId).toString('hex'));
    for (const dir of made.fulls) {
      const infoKey = `${dir}/ENCRYPTION-INFO-3`;
      expect(j.written).toContain(infoKey);
      const info = decodeEncryptionInfo(fs.readFileSync(path.join(made.root, infoKey)));
      expect(info.salt).toBeUndefined();
      expect(info.kmsEntries).toHaveLength(1);
      expect(info.kmsEntries[0].keyHash.equals(kmsMapKey(kms.keyId))).toBe(true);
      const dataKey = await kms.decrypt(info.kmsEntries[0].encryptedDataKey); // no AAD, as CockroachDB
      expect(dataKey.equals(made.dataKeys.get(dir)!)).toBe(true);
      const sstKey = `${dir}/data/1001.sst`;
      const plain = decryptBuffer(dataKey, fs.readFileSync(path.join(made.root, sstKey)));
      expect(plain.equals(made.plaintexts.get(sstKey)!)).toBe(true);
      expect((await checkSst(bufferSource(plain))).ok).toBe(true);
    }
    expect(dataHashes(made.root)).toEqual(before);
    expect((await cli(['backup', 'verify', made.root, '--kms', native, '--all'])).code).toBe(0);
  });

  test('a disabled current CMEK: rewrap writes nothing and exits 3 naming the refusal', async () => {
    const f = fx.get(name);
    const listing = [...hashTree(made.root).keys()];
    f.revoke(c);
    try {
      const r = await cli(['backup', 'rewrap', made.root, '--cmek', c, '--to-cmek', b, '--all']);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(name === 'file' ? /file CMEK .* cannot be read/ : /the CMEK refused/);
      expect([...hashTree(made.root).keys()]).toEqual(listing);
    } finally {
      f.restore(c);
    }
  });
});

describe('backup rewrap: usage', () => {
  test('exactly one action is required', async () => {
    const r = await cli(['backup', 'rewrap', tmp, '--passphrase-env', 'X']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/exactly one of/);
  });
});

describeShared('backup rewrap --add-kms on the shared passphrase collection (copied to a temp dir)', () => {
  test('after --add-kms the backup opens with the KMS only; the passphrase still works', async () => {
    const root = path.join(tmp, 'shared-passphrase');
    copyTree(testdata('collections', 'passphrase'), root);
    const before = dataHashes(root);
    const env = { ...fx.env, PASS: expected().collections.passphrase.passphrase };
    const kmsUri = fx.get('aws-kms').createKey('dr');
    const r = await runCli(['backup', 'rewrap', root, '--passphrase-env', 'PASS', '--add-kms', kmsUri, '--json'], { env });
    expect(r.code).toBe(0);
    const j = json(r);
    const full = '2025/11/20-101500.00';
    expect(j.written).toEqual([`${full}/ENCRYPTION-INFO-2`]);
    const info = decodeEncryptionInfo(fs.readFileSync(path.join(root, full, 'ENCRYPTION-INFO-2')));
    const first = decodeEncryptionInfo(fs.readFileSync(path.join(root, full, 'ENCRYPTION-INFO')));
    // The salt is carried along: CockroachDB's passphrase RESTORE reads it from the newest file.
    expect(info.salt?.equals(first.salt!)).toBe(true);
    expect(info.kmsEntries).toHaveLength(1);
    expect(dataHashes(root)).toEqual(before);
    const viaKms = await runCli(['backup', 'verify', root, '--kms', kmsUri], { env: fx.env });
    expect(viaKms.stderr).toBe('');
    expect(viaKms.code).toBe(0);
    expect((await runCli(['backup', 'verify', root, '--passphrase-env', 'PASS'], { env })).code).toBe(0);
  });
});
