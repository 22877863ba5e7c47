import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { classifyObject, cleartextReason, isSstKey, objectRole } from '../../src/backup/classify';
import { appearsEncrypted } from '../../src/format/chunked';
import { LocalStore } from '../../src/storage/local';
import { describeShared, testdata } from '../helpers/shared';

const LATEST_KEY =
  'metadata/latest/LATEST-13cdcfcdcad2ceced2cdcfdfcecfc5cecac5cfccd1cececdcdccccdfd4cfcfcfcfdfaaabbcdf92c2d4ced1cfcfcfcfcfcfcfcfcefffe';

describe('objectRole / classifyObject by key', () => {
  const cases: Array<[string, string, 'ciphertext' | 'cleartext']> = [
    ['2025/11/20-101500.00/ENCRYPTION-INFO', 'encryption-info', 'cleartext'],
    ['2025/11/20-101500.00/ENCRYPTION-INFO-2', 'encryption-info', 'cleartext'],
    ['ENCRYPTION-INFO', 'encryption-info', 'cleartext'],
    [LATEST_KEY, 'latest', 'cleartext'],
    ['LATEST', 'latest', 'cleartext'],
    ['metadata/latest/LATEST', 'latest', 'cleartext'],
    ['2025/11/20-101500.00/BACKUP-LOCK-1100', 'lock', 'cleartext'],
    ['2025/11/20-101500.00/BACKUP_MANIFEST-CHECKSUM', 'checksum', 'cleartext'],
    ['2025/11/20-101500.00/BACKUP_METADATA-CHECKSUM', 'checksum', 'cleartext'],
    ['2025/11/20-101500.00/progress/BACKUP-CHECKPOINT-0123abcd-CHECKSUM', 'checksum', 'cleartext'],
    ['metadata/index/2025-11-20-101500.00/20251120-101500.00_20251120-101500.00_x', 'index', 'cleartext'],
    ['2025/11/20-101500.00/BACKUP_MANIFEST', 'manifest', 'ciphertext'],
    ['2025/11/20-101500.00/BACKUP', 'manifest', 'ciphertext'],
    ['2025/11/20-101500.00/BACKUP_METADATA', 'metadata', 'ciphertext'],
    ['2025/11/20-101500.00/filelist.sst', 'metadata', 'ciphertext'],
    ['2025/11/20-101500.00/descriptorslist.sst', 'metadata', 'ciphertext'],
    ['2025/11/20-101500.00/data/1001.sst', 'sst', 'ciphertext'],
    ['incrementals/2025/11/20-101500.00/20251121/101500.00/data/2001.sst', 'sst', 'ciphertext'],
    ['2025/11/20-101500.00/BACKUP-STATISTICS', 'statistics', 'ciphertext'],
    ['2025/11/20-101500.00/progress/BACKUP-CHECKPOINT-0123abcd', 'checkpoint', 'ciphertext'],
    ['2025/11/20-101500.00/BACKUP-CHECKPOINT', 'checkpoint', 'ciphertext'],
    ['2025/11/20-101500.00/BACKUP_PART_1_region=us', 'partition', 'ciphertext'],
    ['2025/11/20-101500.00/something-else', 'other', 'ciphertext'],
    ['README.txt', 'other', 'ciphertext'],
  ];
  test.each(cases)('%s is %s (%s)', (key, role, cls) => {
    expect(objectRole(key)).toBe(role);
    expect(classifyObject(key)).toBe(cls);
    if (cls === 'cleartext') expect(cleartextReason(key)!.length).toBeGreaterThan(40);
    else expect(cleartextReason(key)).toBeUndefined();
  });

  test('a manifest named like a lock or checksum elsewhere is not confused', () => {
    // "-CHECKSUM" only at the end of the name; a directory called LATEST-x inside a backup is not LATEST.
    expect(classifyObject('2025/11/20-101500.00/data/CHECKSUM-not-suffix.sst')).toBe('ciphertext');
    expect(objectRole('2025/11/20-101500.00/data/1.sst')).toBe('sst');
    expect(isSstKey('2025/11/20-101500.00/filelist.sst')).toBe(true);
    expect(isSstKey('2025/11/20-101500.00/BACKUP_MANIFEST')).toBe(false);
  });
});

async function walk(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(path.join(root, rel), { withFileTypes: true })) {
    const k = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walk(root, k)));
    else out.push(k);
  }
  return out;
}

describeShared('classification agrees with the bytes of the shared collections', () => {
  test.each(['passphrase', 'kms'])('%s: every must-be-ciphertext object starts with the preamble, every cleartext one does not', async (name) => {
    const root = testdata('collections', name);
    const store = new LocalStore(root);
    const keys = await walk(root);
    expect(keys.length).toBeGreaterThan(15);
    const seenRoles = new Set<string>();
    for (const k of keys) {
      const head = await store.readRange(k, 0, Math.min(8, (await store.stat(k))!.size));
      const cls = classifyObject(k);
      seenRoles.add(`${objectRole(k)}:${cls}`);
      expect({ key: k, encrypted: appearsEncrypted(head) }).toEqual({ key: k, encrypted: cls === 'ciphertext' });
    }
    for (const r of ['encryption-info:cleartext', 'lock:cleartext', 'checksum:cleartext', 'latest:cleartext', 'sst:ciphertext', 'manifest:ciphertext', 'statistics:ciphertext']) {
      expect(seenRoles).toContain(r);
    }
  });

  test('corrupt collection: the planted plaintext data file is one that must be ciphertext', async () => {
    const store = new LocalStore(testdata('collections', 'corrupt'));
    const key = '2025/11/20-101500.00/data/1003.sst';
    expect(classifyObject(key)).toBe('ciphertext');
    expect(appearsEncrypted(await store.readRange(key, 0, 8))).toBe(false);
  });
});
