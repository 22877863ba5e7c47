/**
 * Reading and writing backup manifests (pkg/backup/backupinfo/manifest_handling.go):
 *
 *   stored bytes = encrypt(gzip(protobuf BackupManifest))      (old "BACKUP": no gzip)
 *   <name>-CHECKSUM = first 4 bytes of SHA-256 of the stored bytes
 *
 * readManifest checks the checksum and REPORTS a mismatch without stopping (the manifest is still
 * decoded, so that the completeness check can run), decrypts through a callback (decrypt errors propagate
 * as the typed format errors), gunzips when the plaintext starts 1f 8b 08, and decodes. With
 * has_external_manifest_ssts (23.1+ BACKUP_METADATA) the file list comes from filelist.sst through a
 * second callback (an SST iterator), since the inline `files` are then empty placeholders.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { IntegrityError, KeyError } from '../errors';
import { appearsEncrypted } from '../format/chunked';
import type { ObjectStore } from '../storage/object-store';
import { CHECKSUM_SUFFIX, layerKey, type Layer } from './layout';
import { decodeFileProto, decodeManifestProto, encodeManifestProto, type Manifest, type ManifestFile } from './manifest-proto';

export type { HlcTimestamp, Manifest, ManifestFile, RowCount, Span, BuildInfo } from './manifest-proto';
export { decodeFileProto, encodeFileProto, decodeManifestProto, emptyManifest, hlcToDate, dateToHlc, formatUuid } from './manifest-proto';

export const FILELIST_SST = 'filelist.sst';
export const DESCRIPTORSLIST_SST = 'descriptorslist.sst';
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b, 0x08]);

export type Decrypt = (ciphertext: Buffer) => Buffer | Promise<Buffer>;
export type Encrypt = (plaintext: Buffer) => Buffer | Promise<Buffer>;

/** One entry of an SST (key and value), as src/backup/sst.ts's iterator yields it. */
export interface SstEntry {
  key: Buffer;
  value: Buffer;
}

export interface ReadManifestOptions {
  /**
   * Iterates the (decrypted) entries of an SST given its key relative to the store root. Needed for
   * manifests with has_external_manifest_ssts; values of filelist.sst are marshaled File protos.
   */
  readFileListSst?: (key: string) => AsyncIterable<SstEntry>;
  /** Read this manifest object instead of layer.manifestKey (e.g. a fallback after a failure). */
  manifestKey?: string;
}

/** The manifest of a layer cannot be used: absent, or its bytes do not gunzip / decode. */
export class ManifestError extends IntegrityError {
  constructor(
    readonly kind: 'missing' | 'manifest-unreadable',
    readonly path: string,
    detail: string,
  ) {
    super(detail);
  }
}

export interface ManifestResult {
  /** The manifest object read (relative to the store root). */
  key: string;
  /** Size of the stored object. */
  storedSize: number;
  checksum: 'ok' | 'mismatch' | 'absent';
  checksumKey?: string;
  /** Hex of the 4 bytes in the -CHECKSUM object, and of SHA-256[0:4] of the stored bytes. */
  checksumExpected?: string;
  checksumActual?: string;
  /** Whether the stored bytes were encrypted (start with the "encrypt" preamble). */
  encrypted: boolean;
  /** Whether the decrypted bytes were gzip. */
  compressed: boolean;
  /** Decrypted bytes as stored (still gzip when compressed): what a decrypted backup writes back. */
  decrypted: Buffer;
  /** The marshaled protobuf (after gunzip), and its SHA-256 in hex. */
  proto: Buffer;
  protoSha256: string;
  /** Where the file list came from. 'unavailable' = external SSTs but no reader was given. */
  filesSource: 'inline' | 'filelist.sst' | 'unavailable';
  manifest: Manifest;
}

/** First 4 bytes of SHA-256 of the stored bytes: the content of a -CHECKSUM object. */
export function manifestChecksum(stored: Buffer): Buffer {
  return createHash('sha256').update(stored).digest().subarray(0, 4);
}

export function isGzip(b: Buffer): boolean {
  return b.length >= 3 && b.subarray(0, 3).equals(GZIP_MAGIC);
}

/**
 * Reads, checks, decrypts and decodes the manifest of one layer. `decrypt` null = the backup is not
 * encrypted (an encrypted manifest then raises KeyError). Decrypt failures propagate unchanged
 * (FormatError subclasses with `.kind`, or KeyError from the caller's key handling).
 */
export async function readManifest(
  store: ObjectStore,
  layer: Pick<Layer, 'dir' | 'manifestKey' | 'checksumKey'>,
  decrypt: Decrypt | null,
  opts: ReadManifestOptions = {},
): Promise<ManifestResult> {
  const key = opts.manifestKey ?? layer.manifestKey;
  if (!key) {
    throw new ManifestError('missing', layerKey(layer, 'BACKUP_MANIFEST'), `${layer.dir || 'the backup'} has no manifest (BACKUP_METADATA, BACKUP_MANIFEST or BACKUP)`);
  }
  const stored = await store.read(key);

  let checksum: ManifestResult['checksum'] = 'absent';
  let checksumKey: string | undefined;
  let checksumExpected: string | undefined;
  let checksumActual: string | undefined;
  const ck = key + CHECKSUM_SUFFIX;
  const ckInfo = key === layer.manifestKey && layer.checksumKey !== undefined ? { key: ck } : await store.stat(ck);
  if (ckInfo) {
    checksumKey = ck;
    const want = await store.read(ck);
    const got = manifestChecksum(stored);
    checksumExpected = want.toString('hex');
    checksumActual = got.toString('hex');
    checksum = want.equals(got) ? 'ok' : 'mismatch';
  }

  const encrypted = appearsEncrypted(stored);
  let decrypted: Buffer;
  if (decrypt) {
    decrypted = await decrypt(stored);
  } else if (encrypted) {
    throw new KeyError(`${key} is encrypted: give the passphrase or key the backup was written with`);
  } else {
    decrypted = stored;
  }

  const compressed = isGzip(decrypted);
  let proto: Buffer;
  try {
    proto = compressed ? gunzipSync(decrypted) : decrypted;
  } catch (e) {
    throw new ManifestError('manifest-unreadable', key, `${key}: the decrypted manifest is not valid gzip (${(e as Error).message})`);
  }
  let manifest: Manifest;
  try {
    manifest = decodeManifestProto(proto);
  } catch (e) {
    throw new ManifestError('manifest-unreadable', key, `${key}: not a BackupManifest protobuf (${(e as Error).message})`);
  }

  let filesSource: ManifestResult['filesSource'] = 'inline';
  if (manifest.hasExternalManifestSsts) {
    if (opts.readFileListSst) {
      manifest.files = await readFileList(opts.readFileListSst, layerKey(layer, FILELIST_SST));
      filesSource = 'filelist.sst';
    } else {
      filesSource = 'unavailable';
    }
  }

  return {
    key,
    storedSize: stored.length,
    checksum,
    checksumKey,
    checksumExpected,
    checksumActual,
    encrypted,
    compressed,
    decrypted,
    proto,
    protoSha256: createHash('sha256').update(proto).digest('hex'),
    filesSource,
    manifest,
  };
}

/** Decodes every value of filelist.sst as a File. */
export async function readFileList(read: (key: string) => AsyncIterable<SstEntry>, key: string): Promise<ManifestFile[]> {
  const files: ManifestFile[] = [];
  for await (const e of read(key)) {
    try {
      files.push(decodeFileProto(e.value));
    } catch (err) {
      throw new ManifestError('manifest-unreadable', key, `${key}: an entry is not a BackupManifest.File (${(err as Error).message})`);
    }
  }
  return files;
}

/** Marshals a manifest to protobuf bytes (no gzip, no encryption). */
export function encodeManifest(m: Manifest): Buffer {
  return encodeManifestProto(m);
}

export interface WriteManifestOptions {
  /** gzip before encrypting (default true; the old "BACKUP" name and BACKUP-STATISTICS are not gzipped). */
  gzip?: boolean;
}

/**
 * The bytes to store for a manifest and its -CHECKSUM: gzip(plainProto), then encrypt when a callback is
 * given; the checksum is over the stored bytes.
 */
export async function writeManifestBytes(
  plainProto: Buffer,
  encrypt?: Encrypt,
  opts: WriteManifestOptions = {},
): Promise<{ manifest: Buffer; checksum: Buffer }> {
  const body = opts.gzip === false ? plainProto : gzipSync(plainProto);
  const manifest = encrypt ? await encrypt(body) : body;
  return { manifest, checksum: manifestChecksum(manifest) };
}

/** Relative paths (to the layer) of the data files a manifest references, deduplicated. */
export function referencedPaths(m: Manifest): string[] {
  return [...new Set(m.files.map((f) => f.path).filter((p) => p.length > 0))];
}
