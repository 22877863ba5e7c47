/**
 * Writes a small, deterministic sample collection in CockroachDB's layout: one full backup and one
 * incremental layer, passphrase-encrypted, with LATEST, ENCRYPTION-INFO, gzip+encrypted manifests with
 * -CHECKSUM, encrypted BACKUP-STATISTICS, cleartext BACKUP-LOCK and encrypted SSTs from the project's own
 * SST writer. Used by `npm run fixtures` (fixtures/) and by tests that need a collection to work on.
 * Deterministic: IVs and salt derive from a seed, so regenerating gives the same bytes.
 */
import { createHash, createHmac } from 'node:crypto';
import { buildSst } from '../backup/sst-writer';
import { dateToHlc, emptyManifest, encodeFileProto, type Manifest, type ManifestFile } from '../backup/manifest-proto';
import { encodeManifest, writeManifestBytes } from '../backup/manifest';
import { latestContent, latestObjectName } from '../backup/latest';
import { encryptBuffer } from '../format/chunked';
import { encodeEncryptionInfo, passphraseEncryptionInfo } from '../keys/encryption-info';
import { deriveKeyFromPassphrase } from '../keys/passphrase';
import type { ObjectStore } from '../storage/object-store';

export interface SampleOptions {
  passphrase: string;
  /** Seed for IVs and the salt (default "crdb-cmek sample"). */
  seed?: string;
  /** Rows per table file (default 200). */
  rows?: number;
  /**
   * 'manifest' (default): BACKUP_MANIFEST with the file list inline. 'metadata': also the 23.1+ slim
   * BACKUP_METADATA with has_external_manifest_ssts and the file list in an encrypted filelist.sst.
   */
  style?: 'manifest' | 'metadata';
}

export interface SampleLayout {
  full: string;
  incremental: string;
  objects: string[];
}

export const SAMPLE_FULL = '2025/11/20-101500.00';
export const SAMPLE_INCREMENTAL = 'incrementals/2025/11/20-101500.00/20251121/101500.00';
const TABLE_ID = 104;
const JOB_ID = '1123581321345589';

/**
 * CockroachDB's ascending unsigned varint key encoding (pkg/util/encoding): values up to 109 are one
 * byte 0x88+v; larger values are a length-tagged big-endian integer (0xf5 + byte count, then the bytes).
 */
function uvarintAscending(v: number): Buffer {
  if (v <= 109) return Buffer.from([0x88 + v]);
  const bytes: number[] = [];
  for (let x = v; x > 0; x = Math.floor(x / 256)) bytes.unshift(x % 256);
  return Buffer.from([0xf5 + bytes.length, ...bytes]);
}

/** A table row key in CockroachDB's layout: /Table/<id>/<index 1>/<row>/<family 0>. */
function rowKey(table: number, row: number): Buffer {
  return Buffer.concat([uvarintAscending(table), uvarintAscending(1), uvarintAscending(row), uvarintAscending(0)]);
}

function rowValue(seed: string, row: number, layer: string): Buffer {
  const h = createHash('sha256').update(`${seed}/${layer}/${row}`).digest('hex');
  return Buffer.from(JSON.stringify({ id: row, layer, note: `sample row ${row}`, digest: h.slice(0, 24) }));
}

function ivFor(seed: string, path: string): Buffer {
  return createHmac('sha256', seed).update(`iv:${path}`).digest().subarray(0, 12);
}

function table(seed: string, layer: string, from: number, count: number): { sst: Buffer; span: { key: Buffer; endKey: Buffer }; rows: number; dataSize: number } {
  const entries = [];
  let dataSize = 0;
  for (let r = from; r < from + count; r++) {
    const key = rowKey(TABLE_ID, r);
    const value = rowValue(seed, r, layer);
    dataSize += key.length + value.length;
    entries.push({ key, value });
  }
  return { sst: buildSst(entries), span: { key: rowKey(TABLE_ID, from), endKey: rowKey(TABLE_ID, from + count) }, rows: count, dataSize };
}

/** Writes the sample collection into `store` (which should be empty). */
export async function writeSampleCollection(store: ObjectStore, o: SampleOptions): Promise<SampleLayout> {
  const seed = o.seed ?? 'crdb-cmek sample';
  const rows = o.rows ?? 200;
  const salt = createHmac('sha256', seed).update('salt').digest().subarray(0, 16);
  const key = await deriveKeyFromPassphrase(o.passphrase, salt);
  const written: string[] = [];
  const put = async (path: string, data: Buffer) => {
    await store.write(path, data);
    written.push(path);
  };
  const enc = (path: string, plain: Buffer) => encryptBuffer(key, plain, { iv: ivFor(seed, path) });
  const clusterId = createHash('sha256').update(`${seed}/cluster`).digest().subarray(0, 16).toString('hex');
  const fullEnd = new Date(Date.UTC(2025, 10, 20, 10, 15, 0));
  const incEnd = new Date(Date.UTC(2025, 10, 21, 10, 15, 0));

  const layer = async (dir: string, tables: { from: number; count: number }[], start: Date | undefined, end: Date, full: boolean) => {
    const m: Manifest = emptyManifest();
    if (start) m.startTime = dateToHlc(start);
    m.endTime = dateToHlc(end);
    m.formatVersion = 1;
    m.clusterId = clusterId;
    m.nodeId = 1;
    m.buildInfo = { tag: 'crdb-cmek sample', goVersion: 'n/a' };
    let n = full ? 1001 : 2001;
    for (const t of tables) {
      const tb = table(seed, dir, t.from, t.count);
      const path = `data/${n++}.sst`;
      await put(`${dir}/${path}`, enc(`${dir}/${path}`, tb.sst));
      const f: ManifestFile = {
        span: tb.span,
        path,
        entryCounts: { dataSize: tb.dataSize, rows: tb.rows, indexEntries: 0 },
        localityKv: '',
        backingFileSize: tb.sst.length,
        approximatePhysicalSize: tb.sst.length,
        hasRangeKeys: false,
      };
      m.files.push(f);
      m.spans.push(tb.span);
      m.entryCounts.rows += tb.rows;
      m.entryCounts.dataSize += tb.dataSize;
    }
    if (full) await put(`${dir}/ENCRYPTION-INFO`, encodeEncryptionInfo(passphraseEncryptionInfo(salt)));
    await put(`${dir}/BACKUP-LOCK-${JOB_ID}`, Buffer.from('lock'));
    await put(`${dir}/BACKUP-STATISTICS`, enc(`${dir}/BACKUP-STATISTICS`, Buffer.alloc(0)));
    const { manifest, checksum } = await writeManifestBytes(encodeManifest(m), (b) => enc(`${dir}/BACKUP_MANIFEST`, b));
    await put(`${dir}/BACKUP_MANIFEST`, manifest);
    await put(`${dir}/BACKUP_MANIFEST-CHECKSUM`, checksum);
    if (o.style === 'metadata') {
      // 23.1+: the file list moves to filelist.sst (key = span start + path, value = a marshaled File).
      const list = buildSst(m.files.map((f) => ({ key: Buffer.concat([f.span.key, Buffer.from(f.path)]), value: encodeFileProto(f) })));
      await put(`${dir}/filelist.sst`, enc(`${dir}/filelist.sst`, list));
      const slim: Manifest = { ...m, files: [], hasExternalManifestSsts: true };
      const meta = await writeManifestBytes(encodeManifest(slim), (b) => enc(`${dir}/BACKUP_METADATA`, b));
      await put(`${dir}/BACKUP_METADATA`, meta.manifest);
      await put(`${dir}/BACKUP_METADATA-CHECKSUM`, meta.checksum);
    }
  };

  await layer(SAMPLE_FULL, [
    { from: 0, count: rows },
    { from: rows, count: rows },
    { from: 2 * rows, count: rows },
  ], undefined, fullEnd, true);
  await layer(SAMPLE_INCREMENTAL, [{ from: 3 * rows, count: rows }], fullEnd, incEnd, false);
  await put(latestObjectName(fullEnd), Buffer.from(latestContent(SAMPLE_FULL)));
  return { full: SAMPLE_FULL, incremental: SAMPLE_INCREMENTAL, objects: written };
}
