import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { discoverCollection, type Layer } from '../../src/backup/layout';
import {
  dateToHlc,
  emptyManifest,
  encodeFileProto,
  encodeManifest,
  FILELIST_SST,
  formatUuid,
  hlcToDate,
  ManifestError,
  manifestChecksum,
  readManifest,
  referencedPaths,
  writeManifestBytes,
  type Manifest,
  type ManifestFile,
  type SstEntry,
} from '../../src/backup/manifest';
import { decodeManifestProto } from '../../src/backup/manifest-proto';
import { KeyError } from '../../src/errors';
import { decryptBuffer, encryptBuffer } from '../../src/format/chunked';
import { AuthenticationError, NotEncryptedError } from '../../src/format/errors';
import { LocalStore } from '../../src/storage/local';
import { describeShared, expected, testdata } from '../helpers/shared';

function passphraseKey(collection: string): Buffer {
  const info = readFileSync(testdata('collections', collection, '2025', '11', '20-101500.00', 'ENCRYPTION-INFO')) as Buffer;
  expect(info.subarray(0, 2).toString('hex')).toBe('1210');
  return pbkdf2Sync(expected().collections[collection].passphrase, info.subarray(2, 18), 64000, 32, 'sha256');
}

describeShared('manifests of the shared collections', () => {
  test.each(['passphrase', 'corrupt'])('%s: both layers decrypt, gunzip and decode to the expected protobuf', async (name) => {
    const exp = expected().collections[name];
    const store = new LocalStore(testdata('collections', name));
    const c = await discoverCollection(store);
    const key = passphraseKey(name);
    const present = new Set(c.objects.map((o) => o.key));
    for (const layer of c.selected[0].layers) {
      const r = await readManifest(store, layer, (ct) => decryptBuffer(key, ct));
      expect(r.key).toBe(layer.manifestKey);
      expect(r.encrypted).toBe(true);
      expect(r.compressed).toBe(true);
      expect(r.protoSha256).toBe(exp.files[r.key].manifest_sha256_plain_proto);
      expect(gunzipSync(r.decrypted).equals(r.proto)).toBe(true);
      expect(r.filesSource).toBe('inline');
      const m = r.manifest;
      expect(m.files.length).toBeGreaterThan(0);
      expect(m.formatVersion).toBe(1);
      expect(m.clusterId).toMatch(/^[0-9a-f]{32}$/);
      expect(formatUuid(m.clusterId)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
      expect(m.endTime && hlcToDate(m.endTime)!.getUTCFullYear()).toBe(2025);
      expect(m.spans.length).toBe(m.files.length);
      expect(m.entryCounts.rows).toBe(m.files.reduce((s, f) => s + f.entryCounts.rows, 0));
      expect(m.entryCounts.dataSize).toBe(m.files.reduce((s, f) => s + f.entryCounts.dataSize, 0));
      for (const f of m.files) {
        expect(f.path).toMatch(/^data\/\d+\.sst$/);
        expect(f.span.key.length).toBeGreaterThan(0);
      }
      const keys = referencedPaths(m).map((p) => `${layer.dir}/${p}`);
      const expectedData = Object.keys(exp.files).filter((k) => k.startsWith(layer.dir + '/data/'));
      expect(keys.sort()).toEqual(expectedData.sort());
      if (name === 'passphrase') {
        expect(r.checksum).toBe('ok');
        for (const k of keys) expect(present.has(k)).toBe(true);
      }
    }
  });

  test('corrupt: the checksum mismatch is reported, the file list still decoded (1001.sst listed but absent)', async () => {
    const store = new LocalStore(testdata('collections', 'corrupt'));
    const c = await discoverCollection(store);
    const key = passphraseKey('corrupt');
    const [full, inc] = c.selected[0].layers;
    const r = await readManifest(store, full, (ct) => decryptBuffer(key, ct));
    expect(r.checksum).toBe('mismatch');
    expect(r.checksumKey).toBe('2025/11/20-101500.00/BACKUP_MANIFEST-CHECKSUM');
    expect(r.checksumExpected).toBe('00000000');
    expect(r.checksumActual).toBe(manifestChecksum(await store.read(r.key)).toString('hex'));
    expect(r.checksumActual).not.toBe('00000000');
    const paths = referencedPaths(r.manifest);
    expect(paths).toContain('data/1001.sst');
    expect(paths).not.toContain('data/999999.sst');
    expect(await store.stat('2025/11/20-101500.00/data/1001.sst')).toBeUndefined();
    expect((await readManifest(store, inc, (ct) => decryptBuffer(key, ct))).checksum).toBe('ok');
  });

  test('a wrong key propagates the typed authentication error; no key on an encrypted manifest is a key error', async () => {
    const store = new LocalStore(testdata('collections', 'passphrase'));
    const c = await discoverCollection(store);
    const layer = c.selected[0].layers[0];
    const wrong = Buffer.from(expected().wrong_key_hex, 'hex');
    const err = await readManifest(store, layer, (ct) => decryptBuffer(wrong, ct)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as AuthenticationError).kind).toBe('authentication-failed');
    await expect(readManifest(store, layer, null)).rejects.toThrow(KeyError);
  });

  test('the real manifest decodes, re-encodes byte-identically and round-trips', async () => {
    const store = new LocalStore(testdata('collections', 'passphrase'));
    const c = await discoverCollection(store);
    const key = passphraseKey('passphrase');
    for (const layer of c.selected[0].layers) {
      const r = await readManifest(store, layer, (ct) => decryptBuffer(key, ct));
      const again = encodeManifest(r.manifest);
      expect(again.equals(r.proto)).toBe(true);
      expect(decodeManifestProto(again)).toEqual(r.manifest);
    }
  });
});

describe('synthetic manifests', () => {
  let tmp: string;
  let store: LocalStore;
  const key = randomBytes(32);
  const enc = (p: Buffer) => encryptBuffer(key, p);
  const dec = (c: Buffer) => decryptBuffer(key, c);
  const DIR = '2025/11/20-101500.00';
  const layer = (extra: Partial<Layer> = {}): Layer => ({
    dir: DIR,
    kind: 'full',
    manifestKey: `${DIR}/BACKUP_MANIFEST`,
    manifestKeys: [`${DIR}/BACKUP_MANIFEST`],
    checksumKey: `${DIR}/BACKUP_MANIFEST-CHECKSUM`,
    objects: [],
    ...extra,
  });

  beforeEach(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'crdb-manifest-'));
    store = new LocalStore(tmp);
  });
  afterEach(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  function file(n: number, extra: Partial<ManifestFile> = {}): ManifestFile {
    return {
      span: { key: Buffer.from(`/Table/${100 + n}/1`), endKey: Buffer.from(`/Table/${100 + n}/2`) },
      path: `data/${n}.sst`,
      entryCounts: { dataSize: 1000 * n, rows: n, indexEntries: 0 },
      localityKv: '',
      backingFileSize: 4096 * n,
      approximatePhysicalSize: 0,
      hasRangeKeys: false,
      ...extra,
    };
  }

  function sample(): Manifest {
    const m = emptyManifest();
    m.startTime = dateToHlc(new Date('2025-11-19T10:15:00Z'));
    m.endTime = { wallTime: 1763633700000000000n + 123456n, logical: 7 };
    m.revisionStartTime = dateToHlc(new Date('2025-11-18T00:00:00Z'));
    m.files = [file(1), file(2, { hasRangeKeys: true, localityKv: 'region=us', approximatePhysicalSize: 77, startTime: dateToHlc(new Date(5)), endTime: dateToHlc(new Date(9), 2) })];
    m.spans = m.files.map((f) => f.span);
    m.introducedSpans = [m.spans[0]];
    m.descriptors = [Buffer.from([0x0a, 0x02, 0x08, 0x01]), Buffer.from([0x12, 0x00])];
    m.descriptorCount = 2;
    m.formatVersion = 1;
    m.clusterId = randomBytes(16).toString('hex');
    m.id = randomBytes(16).toString('hex');
    m.nodeId = 3;
    m.buildInfo = { tag: 'v25.2.1', goVersion: 'go1.23', platform: 'linux amd64', cgoTargetTriple: 'x86_64-linux-gnu' };
    m.entryCounts = { dataSize: 3000, rows: 3, indexEntries: 1 };
    m.mvccFilter = 1;
    m.partitionDescriptorFilenames = ['BACKUP_PART_1'];
    m.localityKvs = ['region=us'];
    m.statisticsFilenames = { 104: 'BACKUP-STATISTICS-104' };
    m.descriptorCoverage = 1;
    m.elidedPrefix = 2;
    m.isCompacted = true;
    return m;
  }

  async function put(name: string, plainProto: Buffer, opts: { gzip?: boolean; encrypt?: boolean; checksum?: boolean } = {}): Promise<void> {
    const w = await writeManifestBytes(plainProto, opts.encrypt === false ? undefined : enc, { gzip: opts.gzip });
    await store.write(`${DIR}/${name}`, w.manifest);
    if (opts.checksum !== false) await store.write(`${DIR}/${name}-CHECKSUM`, w.checksum);
  }

  test('encode -> gzip -> encrypt -> store -> read gives the same manifest, checksum ok', async () => {
    const m = sample();
    const proto = encodeManifest(m);
    await put('BACKUP_MANIFEST', proto);
    const stored = await store.read(`${DIR}/BACKUP_MANIFEST`);
    expect((await store.read(`${DIR}/BACKUP_MANIFEST-CHECKSUM`)).equals(createHash('sha256').update(stored).digest().subarray(0, 4))).toBe(true);
    const r = await readManifest(store, layer(), dec);
    expect(r.checksum).toBe('ok');
    expect(r.compressed).toBe(true);
    expect(r.proto.equals(proto)).toBe(true);
    expect(r.manifest).toEqual(m);
    expect(r.manifest.endTime!.wallTime).toBe(1763633700000123456n);
  });

  test('a tampered -CHECKSUM is reported as a mismatch but the manifest is still decoded; none = absent', async () => {
    await put('BACKUP_MANIFEST', encodeManifest(sample()));
    await store.write(`${DIR}/BACKUP_MANIFEST-CHECKSUM`, Buffer.from('deadbeef', 'hex'));
    const r = await readManifest(store, layer(), dec);
    expect(r.checksum).toBe('mismatch');
    expect(r.checksumExpected).toBe('deadbeef');
    expect(r.manifest.files.map((f) => f.path)).toEqual(['data/1.sst', 'data/2.sst']);

    await store.delete(`${DIR}/BACKUP_MANIFEST-CHECKSUM`);
    const r2 = await readManifest(store, layer({ checksumKey: undefined }), dec);
    expect(r2.checksum).toBe('absent');
    expect(r2.checksumKey).toBeUndefined();
  });

  test('old BACKUP name without gzip, and an unencrypted backup read with decrypt = null', async () => {
    const m = sample();
    await put('BACKUP', encodeManifest(m), { gzip: false });
    const l = layer({ manifestKey: `${DIR}/BACKUP`, manifestKeys: [`${DIR}/BACKUP`], checksumKey: undefined });
    const r = await readManifest(store, l, dec);
    expect(r.compressed).toBe(false);
    expect(r.checksum).toBe('ok');
    expect(r.manifest).toEqual(m);

    await put('BACKUP_MANIFEST', encodeManifest(m), { encrypt: false });
    const plain = await readManifest(store, layer(), null);
    expect(plain.encrypted).toBe(false);
    expect(plain.manifest).toEqual(m);
    // With a key, a cleartext manifest in an encrypted backup is the format's not-encrypted error.
    await expect(readManifest(store, layer(), dec)).rejects.toThrow(NotEncryptedError);
  });

  test('BACKUP_METADATA with has_external_manifest_ssts reads the files from filelist.sst', async () => {
    const m = sample();
    const files = m.files;
    m.files = [];
    m.hasExternalManifestSsts = true;
    await put('BACKUP_METADATA', encodeManifest(m));
    const l = layer({ manifestKey: `${DIR}/BACKUP_METADATA`, manifestKeys: [`${DIR}/BACKUP_METADATA`], checksumKey: `${DIR}/BACKUP_METADATA-CHECKSUM` });
    const asked: string[] = [];
    async function* iterate(k: string): AsyncIterable<SstEntry> {
      asked.push(k);
      for (const f of files) yield { key: Buffer.concat([f.span.key, Buffer.from(f.path)]), value: encodeFileProto(f) };
    }
    const r = await readManifest(store, l, dec, { readFileListSst: iterate });
    expect(asked).toEqual([`${DIR}/${FILELIST_SST}`]);
    expect(r.filesSource).toBe('filelist.sst');
    expect(r.manifest.files).toEqual(files);
    expect(r.manifest.hasExternalManifestSsts).toBe(true);

    const without = await readManifest(store, l, dec);
    expect(without.filesSource).toBe('unavailable');
    expect(without.manifest.files).toEqual([]);

    async function* broken(): AsyncIterable<SstEntry> {
      yield { key: Buffer.from('k'), value: Buffer.from([0xff, 0xff, 0xff]) };
    }
    await expect(readManifest(store, l, dec, { readFileListSst: broken })).rejects.toThrow(ManifestError);
  });

  test('garbage after decryption is manifest-unreadable; a layer without a manifest is missing', async () => {
    await store.write(`${DIR}/BACKUP_MANIFEST`, enc(Buffer.from([0x1f, 0x8b, 0x08, 0, 1, 2, 3])));
    const e1 = await readManifest(store, layer({ checksumKey: undefined }), dec).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ManifestError);
    expect((e1 as ManifestError).kind).toBe('manifest-unreadable');
    expect((e1 as ManifestError).path).toBe(`${DIR}/BACKUP_MANIFEST`);

    await store.write(`${DIR}/BACKUP_MANIFEST`, enc(Buffer.from([0x0a, 0xff, 0x01])));
    const e2 = await readManifest(store, layer({ checksumKey: undefined }), dec).catch((e: unknown) => e);
    expect((e2 as ManifestError).kind).toBe('manifest-unreadable');

    const e3 = await readManifest(store, layer({ manifestKey: undefined, manifestKeys: [] }), dec).catch((e: unknown) => e);
    expect((e3 as ManifestError).kind).toBe('missing');
  });

  test('unknown fields (ExternalStorage dir, cluster_version, tenants, descriptor_changes) are skipped', () => {
    const m = sample();
    const proto = encodeManifest(m);
    const dir = Buffer.from([0x3a, 0x04, 0x08, 0x01, 0x10, 0x02]); // 7: dir {1: 1, 2: 2}
    const rest = Buffer.from([
      0xca, 0x01, 0x02, 0x08, 0x19, // 25: cluster_version {1: 25}
      0xd2, 0x01, 0x00, // 26: tenants (an empty message)
      0x82, 0x01, 0x03, 0x0a, 0x01, 0x00, // 16: descriptor_changes
      0x70, 0x05, // 14: complete_dbs = [5]
      0xf9, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, // 31: a future fixed64 field
    ]);
    const withUnknown = Buffer.concat([dir, proto, rest]);
    expect(decodeManifestProto(withUnknown)).toEqual(m);
  });

  test('an empty manifest encodes to nothing and decodes back', () => {
    const m = emptyManifest();
    const b = encodeManifest(m);
    expect(b.length).toBe(0);
    expect(decodeManifestProto(b)).toEqual(m);
  });
});
