/**
 * The subset of CockroachDB's BackupManifest (pkg/backup/backuppb/backup.proto, package
 * cockroach.ccl.backupccl, proto3) this tool reads and writes, as protobufjs reflection built in code.
 * Field numbers are CockroachDB's; every field not declared here is skipped by the decoder. Descriptors
 * (large, deeply nested) are kept as opaque bytes: counted, and written back unchanged by the encoder.
 */
import * as protobuf from 'protobufjs';

type Long = protobuf.Long;
/** protobufjs's Long class (the `long` package), typed loosely by protobufjs. */
const LongCtor = protobuf.util.Long as unknown as {
  fromString(s: string, unsigned?: boolean): Long;
  isLong(v: unknown): boolean;
};

export interface HlcTimestamp {
  /** Nanoseconds since the Unix epoch. */
  wallTime: bigint;
  logical: number;
}

export interface Span {
  key: Buffer;
  endKey: Buffer;
}

export interface RowCount {
  /** Logical KV bytes (not the SST's size on disk). */
  dataSize: number;
  rows: number;
  indexEntries: number;
}

export interface ManifestFile {
  span: Span;
  /** Path relative to the layer directory, e.g. "data/1001.sst". */
  path: string;
  entryCounts: RowCount;
  startTime?: HlcTimestamp;
  endTime?: HlcTimestamp;
  localityKv: string;
  backingFileSize: number;
  approximatePhysicalSize: number;
  hasRangeKeys: boolean;
}

export interface BuildInfo {
  goVersion?: string;
  tag?: string;
  time?: string;
  revision?: string;
  cgoCompiler?: string;
  cgoTargetTriple?: string;
  platform?: string;
  distribution?: string;
  type?: string;
  channel?: string;
}

export interface Manifest {
  startTime?: HlcTimestamp;
  endTime?: HlcTimestamp;
  revisionStartTime?: HlcTimestamp;
  spans: Span[];
  introducedSpans: Span[];
  files: ManifestFile[];
  /** Number of descriptors (tables, databases, schemas, types...). */
  descriptorCount: number;
  /** The descriptors as opaque marshaled bytes (kept so that encoding round-trips them). */
  descriptors: Buffer[];
  formatVersion: number;
  /** Cluster ID (UUID bytes) in hex; '' when absent. */
  clusterId: string;
  /** Backup ID (UUID bytes) in hex; '' when absent. */
  id: string;
  nodeId: number;
  buildInfo?: BuildInfo;
  /** Totals over the backup. */
  entryCounts: RowCount;
  /** 0 = latest only, 1 = all revisions. */
  mvccFilter: number;
  partitionDescriptorFilenames: string[];
  localityKvs: string[];
  statisticsFilenames: Record<number, string>;
  descriptorCoverage: number;
  hasExternalManifestSsts: boolean;
  elidedPrefix: number;
  isCompacted: boolean;
}

function field(name: string, id: number, type: string, rule?: 'repeated'): protobuf.Field {
  return new protobuf.Field(name, id, type, rule);
}

function buildRoot(): protobuf.Root {
  const root = new protobuf.Root();
  const timestamp = new protobuf.Type('Timestamp').add(field('wallTime', 1, 'int64')).add(field('logical', 2, 'int32'));
  const span = new protobuf.Type('Span').add(field('key', 3, 'bytes')).add(field('endKey', 4, 'bytes'));
  const rowCount = new protobuf.Type('RowCount')
    .add(field('dataSize', 1, 'int64'))
    .add(field('rows', 2, 'int64'))
    .add(field('indexEntries', 3, 'int64'));
  const buildInfo = new protobuf.Type('BuildInfo')
    .add(field('goVersion', 1, 'string'))
    .add(field('tag', 2, 'string'))
    .add(field('time', 3, 'string'))
    .add(field('revision', 4, 'string'))
    .add(field('cgoCompiler', 5, 'string'))
    .add(field('platform', 6, 'string'))
    .add(field('distribution', 7, 'string'))
    .add(field('type', 8, 'string'))
    .add(field('channel', 9, 'string'))
    .add(field('cgoTargetTriple', 10, 'string'));
  const file = new protobuf.Type('File')
    .add(field('span', 1, 'Span'))
    .add(field('path', 2, 'string'))
    .add(field('entryCounts', 6, 'RowCount'))
    .add(field('startTime', 7, 'Timestamp'))
    .add(field('endTime', 8, 'Timestamp'))
    .add(field('localityKv', 9, 'string'))
    .add(field('backingFileSize', 10, 'uint64'))
    .add(field('approximatePhysicalSize', 11, 'uint64'))
    .add(field('hasRangeKeys', 12, 'bool'));
  const manifest = new protobuf.Type('BackupManifest')
    .add(field('startTime', 1, 'Timestamp'))
    .add(field('endTime', 2, 'Timestamp'))
    .add(field('spans', 3, 'Span', 'repeated'))
    .add(field('files', 4, 'File', 'repeated'))
    .add(field('descriptors', 5, 'bytes', 'repeated'))
    .add(field('formatVersion', 8, 'uint32'))
    .add(field('clusterId', 9, 'bytes'))
    .add(field('nodeId', 10, 'int32'))
    .add(field('buildInfo', 11, 'BuildInfo'))
    .add(field('entryCounts', 12, 'RowCount'))
    .add(field('mvccFilter', 13, 'int32'))
    .add(field('introducedSpans', 15, 'Span', 'repeated'))
    .add(field('revisionStartTime', 17, 'Timestamp'))
    .add(field('id', 18, 'bytes'))
    .add(field('partitionDescriptorFilenames', 19, 'string', 'repeated'))
    .add(field('localityKvs', 20, 'string', 'repeated'))
    .add(field('descriptorCoverage', 22, 'int32'))
    .add(new protobuf.MapField('statisticsFilenames', 23, 'uint32', 'string'))
    .add(field('hasExternalManifestSsts', 27, 'bool'))
    .add(field('elidedPrefix', 28, 'int32'))
    .add(field('isCompacted', 29, 'bool'));
  root.add(
    new protobuf.Namespace('crdb').add(timestamp).add(span).add(rowCount).add(buildInfo).add(file).add(manifest),
  );
  root.resolveAll();
  return root;
}

const root = buildRoot();
export const ManifestType = root.lookupType('crdb.BackupManifest');
export const FileType = root.lookupType('crdb.File');

// ---- decoding -------------------------------------------------------------------------------------

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Raw = any;

function toBig(v: Long | number | string | undefined | null): bigint {
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'string') return BigInt(v);
  return BigInt(v.toString());
}

function toNum(v: Long | number | string | undefined | null): number {
  return Number(toBig(v));
}

function buf(v: Uint8Array | number[] | undefined | null): Buffer {
  if (!v) return Buffer.alloc(0);
  if (Buffer.isBuffer(v)) return v;
  // protobufjs uses a plain (empty) array as the default of absent bytes fields.
  if (Array.isArray(v)) return Buffer.from(v);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function ts(v: Raw): HlcTimestamp | undefined {
  if (!v) return undefined;
  return { wallTime: toBig(v.wallTime), logical: v.logical ?? 0 };
}

function span(v: Raw): Span {
  return { key: buf(v?.key), endKey: buf(v?.endKey) };
}

function rowCount(v: Raw): RowCount {
  return { dataSize: toNum(v?.dataSize), rows: toNum(v?.rows), indexEntries: toNum(v?.indexEntries) };
}

function file(v: Raw): ManifestFile {
  return {
    span: span(v.span),
    path: v.path ?? '',
    entryCounts: rowCount(v.entryCounts),
    startTime: ts(v.startTime),
    endTime: ts(v.endTime),
    localityKv: v.localityKv ?? '',
    backingFileSize: toNum(v.backingFileSize),
    approximatePhysicalSize: toNum(v.approximatePhysicalSize),
    hasRangeKeys: !!v.hasRangeKeys,
  };
}

function buildInfo(v: Raw): BuildInfo | undefined {
  if (!v) return undefined;
  const out: BuildInfo = {};
  for (const k of [
    'goVersion',
    'tag',
    'time',
    'revision',
    'cgoCompiler',
    'cgoTargetTriple',
    'platform',
    'distribution',
    'type',
    'channel',
  ] as const) {
    if (v[k]) out[k] = v[k];
  }
  return out;
}

/** Decodes a marshaled BackupManifest (already decrypted and gunzipped). Throws on malformed protobuf. */
export function decodeManifestProto(bytes: Uint8Array): Manifest {
  const m: Raw = ManifestType.decode(bytes);
  const stats: Record<number, string> = {};
  for (const [k, v] of Object.entries(m.statisticsFilenames ?? {})) stats[Number(k)] = v as string;
  return {
    startTime: ts(m.startTime),
    endTime: ts(m.endTime),
    revisionStartTime: ts(m.revisionStartTime),
    spans: (m.spans ?? []).map(span),
    introducedSpans: (m.introducedSpans ?? []).map(span),
    files: (m.files ?? []).map(file),
    descriptorCount: (m.descriptors ?? []).length,
    descriptors: (m.descriptors ?? []).map(buf),
    formatVersion: m.formatVersion ?? 0,
    clusterId: buf(m.clusterId).toString('hex'),
    id: buf(m.id).toString('hex'),
    nodeId: m.nodeId ?? 0,
    buildInfo: buildInfo(m.buildInfo),
    entryCounts: rowCount(m.entryCounts),
    mvccFilter: m.mvccFilter ?? 0,
    partitionDescriptorFilenames: m.partitionDescriptorFilenames ?? [],
    localityKvs: m.localityKvs ?? [],
    statisticsFilenames: stats,
    descriptorCoverage: m.descriptorCoverage ?? 0,
    hasExternalManifestSsts: !!m.hasExternalManifestSsts,
    elidedPrefix: m.elidedPrefix ?? 0,
    isCompacted: !!m.isCompacted,
  };
}

/** Decodes one marshaled BackupManifest.File (the value of a filelist.sst entry). */
export function decodeFileProto(bytes: Uint8Array): ManifestFile {
  return file(FileType.decode(bytes));
}

// ---- encoding -------------------------------------------------------------------------------------

function long(v: bigint | number, unsigned = false): Long {
  return LongCtor.fromString(BigInt(v).toString(), unsigned);
}

function tsOut(t: HlcTimestamp | undefined): Raw {
  if (!t || (t.wallTime === 0n && t.logical === 0)) return undefined;
  return { wallTime: long(t.wallTime), logical: t.logical };
}

function spanOut(s: Span): Raw {
  return { key: s.key, endKey: s.endKey };
}

function rowCountOut(r: RowCount | undefined): Raw {
  if (!r || (r.dataSize === 0 && r.rows === 0 && r.indexEntries === 0)) return undefined;
  return { dataSize: long(r.dataSize), rows: long(r.rows), indexEntries: long(r.indexEntries) };
}

function fileOut(f: ManifestFile): Raw {
  return {
    span: spanOut(f.span),
    path: f.path,
    entryCounts: rowCountOut(f.entryCounts),
    startTime: tsOut(f.startTime),
    endTime: tsOut(f.endTime),
    localityKv: f.localityKv || undefined,
    backingFileSize: f.backingFileSize ? long(f.backingFileSize, true) : undefined,
    approximatePhysicalSize: f.approximatePhysicalSize ? long(f.approximatePhysicalSize, true) : undefined,
    hasRangeKeys: f.hasRangeKeys || undefined,
  };
}

function hexBytes(h: string): Buffer | undefined {
  return h ? Buffer.from(h, 'hex') : undefined;
}

/** Marshals a Manifest (the fields modelled here; descriptors as given). */
export function encodeManifestProto(m: Manifest): Buffer {
  const raw: Raw = {
    startTime: tsOut(m.startTime),
    endTime: tsOut(m.endTime),
    spans: m.spans.map(spanOut),
    files: m.files.map(fileOut),
    descriptors: m.descriptors,
    formatVersion: m.formatVersion || undefined,
    clusterId: hexBytes(m.clusterId),
    nodeId: m.nodeId || undefined,
    buildInfo: m.buildInfo && Object.keys(m.buildInfo).length > 0 ? m.buildInfo : undefined,
    entryCounts: rowCountOut(m.entryCounts),
    mvccFilter: m.mvccFilter || undefined,
    introducedSpans: m.introducedSpans.map(spanOut),
    revisionStartTime: tsOut(m.revisionStartTime),
    id: hexBytes(m.id),
    partitionDescriptorFilenames: m.partitionDescriptorFilenames,
    localityKvs: m.localityKvs,
    descriptorCoverage: m.descriptorCoverage || undefined,
    statisticsFilenames: m.statisticsFilenames,
    hasExternalManifestSsts: m.hasExternalManifestSsts || undefined,
    elidedPrefix: m.elidedPrefix || undefined,
    isCompacted: m.isCompacted || undefined,
  };
  return Buffer.from(ManifestType.encode(ManifestType.fromObject(stripUndefined(raw))).finish());
}

/** Marshals one BackupManifest.File (a filelist.sst value). */
export function encodeFileProto(f: ManifestFile): Buffer {
  return Buffer.from(FileType.encode(FileType.fromObject(stripUndefined(fileOut(f)))).finish());
}

/** proto3 leaves default values (0, '', false, empty bytes/lists) off the wire; so must we, to match CockroachDB. */
function isDefault(v: unknown): boolean {
  if (v === undefined || v === null || v === 0 || v === '' || v === false) return true;
  if (v instanceof Uint8Array || Array.isArray(v)) return v.length === 0;
  if (LongCtor.isLong(v)) return (v as Long).low === 0 && (v as Long).high === 0;
  return false;
}

function stripUndefined(o: Raw): Raw {
  if (Array.isArray(o)) return o.map(stripUndefined);
  if (o && typeof o === 'object' && !(o instanceof Uint8Array) && !LongCtor.isLong(o)) {
    const out: Raw = {};
    for (const [k, v] of Object.entries(o)) if (!isDefault(v)) out[k] = stripUndefined(v);
    return out;
  }
  return o;
}

// ---- helpers --------------------------------------------------------------------------------------

/** An empty manifest, for building fixtures. */
export function emptyManifest(): Manifest {
  return {
    spans: [],
    introducedSpans: [],
    files: [],
    descriptorCount: 0,
    descriptors: [],
    formatVersion: 0,
    clusterId: '',
    id: '',
    nodeId: 0,
    entryCounts: { dataSize: 0, rows: 0, indexEntries: 0 },
    mvccFilter: 0,
    partitionDescriptorFilenames: [],
    localityKvs: [],
    statisticsFilenames: {},
    descriptorCoverage: 0,
    hasExternalManifestSsts: false,
    elidedPrefix: 0,
    isCompacted: false,
  };
}

/** The wall time of an HLC timestamp as a Date (millisecond precision). */
export function hlcToDate(t: HlcTimestamp | undefined): Date | undefined {
  if (!t || t.wallTime === 0n) return undefined;
  return new Date(Number(t.wallTime / 1_000_000n));
}

/** A Date as an HLC timestamp (logical 0). */
export function dateToHlc(d: Date, logical = 0): HlcTimestamp {
  return { wallTime: BigInt(d.getTime()) * 1_000_000n, logical };
}

/** 32 hex digits of a UUID as "8-4-4-4-12"; other input unchanged. */
export function formatUuid(hex: string): string {
  if (!/^[0-9a-f]{32}$/i.test(hex)) return hex;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
