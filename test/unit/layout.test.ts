import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { discoverCollection, layerKey, selectedLayers, selectedObjects, type Collection } from '../../src/backup/layout';
import {
  decodeDescendingString,
  decodeLatestName,
  encodeDescendingString,
  formatGoTime,
  latestContent,
  latestFileNameFor,
  latestObjectName,
  parseGoTime,
} from '../../src/backup/latest';
import { StorageError, UsageError } from '../../src/errors';
import { LocalStore } from '../../src/storage/local';
import { describeShared, expected, testdata } from '../helpers/shared';

const SHARED_LATEST =
  'LATEST-13cdcfcdcad2ceced2cdcfdfcecfc5cecac5cfccd1cececdcdccccdfd4cfcfcfcfdfaaabbcdf92c2d4ced1cfcfcfcfcfcfcfcfcefffe';

describe('LATEST-<hex> names', () => {
  test('decodes the shared name to the Go time string and its instant', () => {
    const d = decodeLatestName(`metadata/latest/${SHARED_LATEST}`)!;
    expect(d.timeString).toBe('2025-11-20 10:15:03.112233 +0000 UTC m=+1.000000001');
    expect(d.time?.toISOString()).toBe('2025-11-20T10:15:03.112Z');
  });

  test('encodes as 0x13 + inverted bytes + ff fe, and round-trips', () => {
    const enc = encodeDescendingString('ab');
    expect(enc.toString('hex')).toBe('139e9dfffe');
    expect(decodeDescendingString(enc)).toBe('ab');
    // A NUL byte is escaped (00 ff before inversion).
    const withNul = encodeDescendingString('a\u0000b');
    expect(withNul.toString('hex')).toBe('139eff009dfffe');
    expect(decodeDescendingString(withNul)).toBe('a\u0000b');
    expect(() => decodeDescendingString(Buffer.from('129e', 'hex'))).toThrow(RangeError);
    expect(() => decodeDescendingString(Buffer.from('139e9d', 'hex'))).toThrow(RangeError);
  });

  test('Go time strings format and parse', () => {
    expect(formatGoTime(new Date('2025-11-20T10:15:00.000Z'))).toBe('2025-11-20 10:15:00 +0000 UTC');
    expect(formatGoTime(new Date('2025-11-20T10:15:03.120Z'))).toBe('2025-11-20 10:15:03.12 +0000 UTC');
    expect(parseGoTime('2025-11-20 12:15:03.5 +0200 EET')?.toISOString()).toBe('2025-11-20T10:15:03.500Z');
    expect(parseGoTime('not a time')).toBeUndefined();
  });

  test('newer LATEST names sort first, as CockroachDB reads them', () => {
    const older = latestFileNameFor(new Date('2025-11-20T10:15:00.000Z'));
    const newer = latestFileNameFor(new Date('2025-11-21T09:00:00.500Z'));
    expect([older, newer].sort()[0]).toBe(newer);
    expect(latestObjectName(new Date('2025-11-20T10:15:00.000Z'))).toBe(`metadata/latest/${older}`);
    expect(decodeLatestName(newer)?.time?.toISOString()).toBe('2025-11-21T09:00:00.500Z');
    expect(decodeLatestName('LATEST')).toBeUndefined();
    expect(latestContent('2025/11/20-101500.00/')).toBe('/2025/11/20-101500.00');
  });
});

function assertPartition(c: Collection): void {
  const assigned = [
    ...c.backups.flatMap((b) => b.layers.flatMap((l) => l.objects)),
    ...c.collectionObjects,
    ...c.stray,
  ].map((o) => o.key);
  expect(assigned.sort()).toEqual(c.objects.map((o) => o.key).sort());
  expect(new Set(assigned).size).toBe(assigned.length);
}

describeShared('shared collections', () => {
  test.each(['passphrase', 'kms', 'corrupt'])('%s: LATEST, full and incremental discovered, every object assigned', async (name) => {
    const exp = expected().collections[name];
    const c = await discoverCollection(new LocalStore(testdata('collections', name)));
    expect(c.mode).toBe('collection');
    expect('/' + c.latest).toBe(exp.full);
    expect(c.latestSource).toBe(`metadata/latest/${SHARED_LATEST}`);
    expect(c.latestTime?.toISOString()).toBe('2025-11-20T10:15:03.112Z');
    expect(c.backups.map((b) => b.dir)).toEqual(['2025/11/20-101500.00']);
    expect(c.selected).toEqual(c.backups);
    const [full, inc] = c.backups[0].layers;
    expect(c.backups[0].layers).toHaveLength(2);
    expect(full.kind).toBe('full');
    expect(full.dir).toBe('2025/11/20-101500.00');
    expect(full.manifestKey).toBe('2025/11/20-101500.00/BACKUP_MANIFEST');
    expect(full.checksumKey).toBe('2025/11/20-101500.00/BACKUP_MANIFEST-CHECKSUM');
    expect(full.endTime?.toISOString()).toBe('2025-11-20T10:15:00.000Z');
    expect(inc.kind).toBe('incremental');
    expect(inc.dir).toBe(exp.incremental);
    expect(inc.location).toBe('incrementals');
    expect(inc.endTime?.toISOString()).toBe('2025-11-21T10:15:00.000Z');
    expect(inc.manifestKey).toBe(`${exp.incremental}/BACKUP_MANIFEST`);
    expect(inc.objects.map((o) => o.key)).toContain(`${exp.incremental}/data/2001.sst`);
    expect(full.objects.some((o) => o.key.startsWith('incrementals/'))).toBe(false);
    expect(c.stray).toEqual([]);
    expect(c.collectionObjects.map((o) => o.key)).toEqual([c.latestSource]);
    assertPartition(c);
    // Every data file EXPECTED.json names for this collection is an object of some selected layer.
    const keys = new Set(selectedObjects(c).map((o) => o.key));
    for (const f of Object.keys(exp.files)) {
      if (name === 'corrupt' && f.endsWith('/1001.sst')) expect(keys.has(f)).toBe(false);
      else expect(keys.has(f)).toBe(true);
    }
  });

  test('kms: ENCRYPTION-INFO files newest first', async () => {
    const c = await discoverCollection(new LocalStore(testdata('collections', 'kms')));
    expect(c.backups[0].encryptionInfoKeys).toEqual([
      '2025/11/20-101500.00/ENCRYPTION-INFO-2',
      '2025/11/20-101500.00/ENCRYPTION-INFO',
    ]);
  });

  test('a URI pointing at the full backup directory itself is one backup', async () => {
    const c = await discoverCollection(new LocalStore(testdata('collections', 'passphrase', '2025', '11', '20-101500.00')));
    expect(c.mode).toBe('backup');
    expect(c.latest).toBeUndefined();
    expect(c.selected).toHaveLength(1);
    expect(c.selected[0].dir).toBe('');
    expect(c.selected[0].layers).toHaveLength(1);
    expect(c.selected[0].layers[0].manifestKey).toBe('BACKUP_MANIFEST');
    expect(c.selected[0].encryptionInfoKeys).toEqual(['ENCRYPTION-INFO']);
    assertPartition(c);
  });
});

describe('synthetic layouts', () => {
  let tmp: string;
  beforeEach(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'crdb-layout-'));
  });
  afterEach(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  async function build(files: Record<string, string>): Promise<LocalStore> {
    for (const [k, v] of Object.entries(files)) {
      const p = path.join(tmp, ...k.split('/'));
      await fsp.mkdir(path.dirname(p), { recursive: true });
      await fsp.writeFile(p, v);
    }
    return new LocalStore(tmp);
  }

  const FULL_A = '2025/11/20-101500.00';
  const FULL_B = '2025/11/27-101500.00';
  const full = (dir: string, manifest = 'BACKUP_MANIFEST'): Record<string, string> => ({
    [`${dir}/${manifest}`]: 'encrypt-m',
    [`${dir}/${manifest}-CHECKSUM`]: 'xxxx',
    [`${dir}/ENCRYPTION-INFO`]: 'salt',
    [`${dir}/data/1.sst`]: 'encrypt-d',
    [`${dir}/BACKUP-LOCK-7`]: 'lock',
  });

  test('25.2+ incrementals with a "-<start>" suffix, mixed with plain names, oldest first', async () => {
    const store = await build({
      ...full(FULL_A),
      [`metadata/latest/${latestFileNameFor(new Date('2025-11-20T10:15:01Z'))}`]: `/${FULL_A}`,
      [`incrementals/${FULL_A}/20251122/101500.00-20251121-101500.00/BACKUP_MANIFEST`]: 'm',
      [`incrementals/${FULL_A}/20251122/101500.00-20251121-101500.00/data/3.sst`]: 'd',
      [`incrementals/${FULL_A}/20251121/101500.00-20251120-101500.00/BACKUP_MANIFEST`]: 'm',
      [`incrementals/${FULL_A}/20251121/101500.00-20251120-101500.00/data/2.sst`]: 'd',
      [`incrementals/${FULL_A}/20251122/101500.00/BACKUP_MANIFEST`]: 'm',
    });
    const c = await discoverCollection(store);
    const layers = c.selected[0].layers;
    expect(layers.map((l) => l.dir)).toEqual([
      FULL_A,
      `incrementals/${FULL_A}/20251121/101500.00-20251120-101500.00`,
      `incrementals/${FULL_A}/20251122/101500.00`,
      `incrementals/${FULL_A}/20251122/101500.00-20251121-101500.00`,
    ]);
    expect(layers[1].startTime?.toISOString()).toBe('2025-11-20T10:15:00.000Z');
    expect(layers[1].endTime?.toISOString()).toBe('2025-11-21T10:15:00.000Z');
    expect(layers[2].startTime).toBeUndefined();
    expect(layers[3].objects.map((o) => o.key)).toEqual([
      `incrementals/${FULL_A}/20251122/101500.00-20251121-101500.00/BACKUP_MANIFEST`,
      `incrementals/${FULL_A}/20251122/101500.00-20251121-101500.00/data/3.sst`,
    ]);
    expect(layerKey(layers[1], 'data/2.sst')).toBe(`incrementals/${FULL_A}/20251121/101500.00-20251120-101500.00/data/2.sst`);
    expect(layers[3].checksumKey).toBeUndefined();
    assertPartition(c);
  });

  test('old in-directory incrementals and the old root LATEST', async () => {
    const store = await build({
      ...full(FULL_A),
      LATEST: `/${FULL_A}`,
      [`${FULL_A}/20251121/101500.00/BACKUP_MANIFEST`]: 'm',
      [`${FULL_A}/20251121/101500.00/data/2.sst`]: 'd',
    });
    const c = await discoverCollection(store);
    expect(c.latest).toBe(FULL_A);
    expect(c.latestSource).toBe('LATEST');
    expect(c.latestTime).toBeUndefined();
    const [f, inc] = c.selected[0].layers;
    expect(inc.dir).toBe(`${FULL_A}/20251121/101500.00`);
    expect(inc.location).toBe('in-directory');
    expect(inc.manifestKey).toBe(`${FULL_A}/20251121/101500.00/BACKUP_MANIFEST`);
    expect(f.objects.map((o) => o.key)).not.toContain(`${FULL_A}/20251121/101500.00/data/2.sst`);
    expect(f.objects).toHaveLength(5);
    assertPartition(c);
  });

  test('the newest timestamped LATEST wins over older ones and over the root LATEST', async () => {
    const store = await build({
      ...full(FULL_A),
      ...full(FULL_B),
      LATEST: `/${FULL_A}`,
      [latestObjectName(new Date('2025-11-20T10:15:01Z'))]: `/${FULL_A}`,
      [latestObjectName(new Date('2025-11-27T10:15:01Z'))]: `/${FULL_B}\n`,
    });
    const c = await discoverCollection(store);
    expect(c.latest).toBe(FULL_B);
    expect(c.latestSource).toBe(latestObjectName(new Date('2025-11-27T10:15:01Z')));
    expect(c.selected.map((b) => b.dir)).toEqual([FULL_B]);
    expect(c.collectionObjects).toHaveLength(3);
  });

  test('old manifest name BACKUP; BACKUP_METADATA preferred over BACKUP_MANIFEST', async () => {
    const store = await build({
      ...full(FULL_A, 'BACKUP'),
      ...full(FULL_B, 'BACKUP_METADATA'),
      [`${FULL_B}/BACKUP_MANIFEST`]: 'encrypt-m',
      [`${FULL_B}/filelist.sst`]: 'encrypt-f',
      [latestObjectName(new Date('2025-11-27T10:15:01Z'))]: `/${FULL_B}`,
    });
    const c = await discoverCollection(store, { all: true });
    const [a, b] = c.backups;
    expect(a.layers[0].manifestKey).toBe(`${FULL_A}/BACKUP`);
    expect(a.layers[0].checksumKey).toBe(`${FULL_A}/BACKUP-CHECKSUM`);
    expect(b.layers[0].manifestKeys).toEqual([`${FULL_B}/BACKUP_METADATA`, `${FULL_B}/BACKUP_MANIFEST`]);
    expect(b.layers[0].manifestKey).toBe(`${FULL_B}/BACKUP_METADATA`);
    expect(b.layers[0].checksumKey).toBe(`${FULL_B}/BACKUP_METADATA-CHECKSUM`);
  });

  test('multiple fulls: default = LATEST, --all = every one, --backup = one, unknown --backup lists what exists', async () => {
    const store = await build({
      ...full(FULL_A),
      ...full(FULL_B),
      [`incrementals/${FULL_A}/20251121/101500.00/BACKUP_MANIFEST`]: 'm',
      [`incrementals/${FULL_B}/20251128/101500.00/BACKUP_MANIFEST`]: 'm',
      [latestObjectName(new Date('2025-11-20T10:15:01Z'))]: `/${FULL_A}`,
    });
    const def = await discoverCollection(store);
    expect(def.selected.map((b) => b.dir)).toEqual([FULL_A]);
    expect(selectedLayers(def).map((l) => l.dir)).toEqual([FULL_A, `incrementals/${FULL_A}/20251121/101500.00`]);

    const all = await discoverCollection(store, { all: true });
    expect(all.selected.map((b) => b.dir)).toEqual([FULL_A, FULL_B]);
    expect(selectedLayers(all)).toHaveLength(4);

    for (const spelling of [`/${FULL_B}`, FULL_B, `${FULL_B}/`]) {
      const one = await discoverCollection(store, { backup: spelling });
      expect(one.selected.map((b) => b.dir)).toEqual([FULL_B]);
      expect(one.selected[0].layers[1].dir).toBe(`incrementals/${FULL_B}/20251128/101500.00`);
    }
    expect((await discoverCollection(store, { backup: 'LATEST' })).selected.map((b) => b.dir)).toEqual([FULL_A]);

    const err = await discoverCollection(store, { backup: '/2024/01/01-000000.00' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain('/2024/01/01-000000.00');
    expect((err as Error).message).toContain(`/${FULL_A}`);
    expect((err as Error).message).toContain(`/${FULL_B}`);
  });

  test('no LATEST: newest full selected with a warning; LATEST naming a missing backup is a usage error', async () => {
    const store = await build({ ...full(FULL_A), ...full(FULL_B) });
    const c = await discoverCollection(store);
    expect(c.latest).toBeUndefined();
    expect(c.selected.map((b) => b.dir)).toEqual([FULL_B]);
    expect(c.warnings.join('\n')).toMatch(/no LATEST/);

    await fsp.writeFile(path.join(tmp, 'LATEST'), '/2025/12/01-000000.00');
    await expect(discoverCollection(store)).rejects.toThrow(UsageError);
    await expect(discoverCollection(store, { all: true })).resolves.toMatchObject({ latest: '2025/12/01-000000.00' });
  });

  test('strays: unknown objects and incrementals of a missing full', async () => {
    const store = await build({
      ...full(FULL_A),
      LATEST: `/${FULL_A}`,
      'notes.txt': 'hello',
      [`incrementals/${FULL_B}/20251128/101500.00/BACKUP_MANIFEST`]: 'm',
      'incrementals/garbage': 'x',
    });
    const c = await discoverCollection(store);
    expect(c.stray.map((o) => o.key).sort()).toEqual(
      [`incrementals/${FULL_B}/20251128/101500.00/BACKUP_MANIFEST`, 'incrementals/garbage', 'notes.txt'].sort(),
    );
    expect(c.warnings.join('\n')).toContain(`/${FULL_B}`);
    assertPartition(c);
  });

  test('a single backup directory with in-directory incrementals', async () => {
    const store = await build({
      BACKUP_MANIFEST: 'm',
      'BACKUP_MANIFEST-CHECKSUM': 'c',
      'ENCRYPTION-INFO': 's',
      'ENCRYPTION-INFO-3': 's',
      'ENCRYPTION-INFO-2': 's',
      'data/1.sst': 'd',
      '20251121/101500.00/BACKUP_MANIFEST': 'm',
      '20251121/101500.00/data/2.sst': 'd',
    });
    const c = await discoverCollection(store);
    expect(c.mode).toBe('backup');
    const b = c.selected[0];
    expect(b.encryptionInfoKeys).toEqual(['ENCRYPTION-INFO-3', 'ENCRYPTION-INFO-2', 'ENCRYPTION-INFO']);
    expect(b.layers.map((l) => [l.dir, l.kind, l.manifestKey])).toEqual([
      ['', 'full', 'BACKUP_MANIFEST'],
      ['20251121/101500.00', 'incremental', '20251121/101500.00/BACKUP_MANIFEST'],
    ]);
    expect(b.layers[0].checksumKey).toBe('BACKUP_MANIFEST-CHECKSUM');
    assertPartition(c);
  });

  test('an empty location is a storage error; one without backups a usage error naming what is there', async () => {
    await expect(discoverCollection(new LocalStore(path.join(tmp, 'nope')))).rejects.toThrow(StorageError);
    const store = await build({ 'photos/cat.jpg': 'x', 'readme.md': 'y' });
    const err = await discoverCollection(store).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/no backup found/);
    expect((err as Error).message).toContain('photos');
  });
});
