/**
 * ENCRYPTION-INFO: the cleartext protobuf `cockroach.sql.jobs.jobspb.EncryptionInfo` beside a full backup.
 *
 *   enum Scheme { AES256GCM = 0; }
 *   Scheme scheme = 1;
 *   bytes  salt   = 2;                                        // passphrase scheme
 *   map<string, bytes> encryptedDataKeyByKMSMasterKeyID = 3;  // KMS scheme
 *
 * The map's keys are the RAW 32-byte SHA-256 of the KMS master key ID (not valid UTF-8), so field 3 is
 * decoded as `repeated Entry { bytes key = 1; bytes value = 2; }` here: a string decoder would mangle it.
 * The schema is built in code (protobufjs reflection), so nothing needs copying next to the build.
 *
 * `ALTER BACKUP ... ADD NEW_KMS` writes ENCRYPTION-INFO-2, -3, ... beside the first; readers try the
 * newest first.
 */
import { createHash } from 'node:crypto';
import * as protobuf from 'protobufjs';
import type { ObjectStore } from '../storage/object-store';
import { joinKey } from '../storage/object-store';

export const ENCRYPTION_INFO_NAME = 'ENCRYPTION-INFO';
export const SCHEME_AES256GCM = 0;

const Entry = new protobuf.Type('Entry')
  .add(new protobuf.Field('key', 1, 'bytes'))
  .add(new protobuf.Field('value', 2, 'bytes'));
const EncryptionInfoType = new protobuf.Type('EncryptionInfo')
  .add(new protobuf.Field('scheme', 1, 'int32'))
  .add(new protobuf.Field('salt', 2, 'bytes'))
  .add(new protobuf.Field('encryptedDataKeyByKMSMasterKeyID', 3, 'Entry', 'repeated'))
  .add(Entry);
new protobuf.Root().define('cockroach.sql.jobs.jobspb').add(EncryptionInfoType);

export interface KmsEntry {
  /** Raw map key: SHA-256 of the master key ID (32 bytes). */
  keyHash: Buffer;
  /** The data key as wrapped by that KMS. */
  encryptedDataKey: Buffer;
}

export interface EncryptionInfo {
  /** Always 0 (AES256GCM). */
  scheme: number;
  /** Passphrase scheme: the 16-byte PBKDF2 salt. */
  salt?: Buffer;
  /** KMS scheme: wrapped data keys by hex of the SHA-256 of the master key ID. */
  encryptedDataKeyByKMSMasterKeyID: Map<string, Buffer>;
  /** The same entries with their raw key bytes, in file order. */
  kmsEntries: KmsEntry[];
}

/** The map key for a KMS master key ID: the raw SHA-256 of its UTF-8 bytes. */
export function kmsMapKey(masterKeyId: string): Buffer {
  return createHash('sha256').update(masterKeyId, 'utf8').digest();
}

/** Builds an EncryptionInfo for the passphrase scheme. */
export function passphraseEncryptionInfo(salt: Buffer): EncryptionInfo {
  return { scheme: SCHEME_AES256GCM, salt: Buffer.from(salt), encryptedDataKeyByKMSMasterKeyID: new Map(), kmsEntries: [] };
}

/** Builds an EncryptionInfo for the KMS scheme from (master key ID, wrapped data key) pairs. */
export function kmsEncryptionInfo(entries: Iterable<[masterKeyId: string, wrapped: Buffer]>): EncryptionInfo {
  const kmsEntries: KmsEntry[] = [];
  for (const [id, wrapped] of entries) kmsEntries.push({ keyHash: kmsMapKey(id), encryptedDataKey: Buffer.from(wrapped) });
  return withMap({ scheme: SCHEME_AES256GCM, encryptedDataKeyByKMSMasterKeyID: new Map(), kmsEntries });
}

function withMap(info: EncryptionInfo): EncryptionInfo {
  info.encryptedDataKeyByKMSMasterKeyID = new Map(info.kmsEntries.map((e) => [e.keyHash.toString('hex'), e.encryptedDataKey]));
  return info;
}

/** ENCRYPTION-INFO bytes that are not an EncryptionInfo protobuf. */
export class EncryptionInfoDecodeError extends Error {
  constructor(detail: string) {
    super(`not a valid ENCRYPTION-INFO (EncryptionInfo protobuf): ${detail}`);
    this.name = 'EncryptionInfoDecodeError';
  }
}

/** Decodes ENCRYPTION-INFO bytes; EncryptionInfoDecodeError on malformed protobuf or a non-zero scheme. */
export function decodeEncryptionInfo(buf: Buffer): EncryptionInfo {
  let decoded: unknown;
  try {
    decoded = EncryptionInfoType.decode(buf);
  } catch (e) {
    throw new EncryptionInfoDecodeError((e as Error).message);
  }
  const m = decoded as {
    scheme?: number;
    salt?: Uint8Array;
    encryptedDataKeyByKMSMasterKeyID?: { key?: Uint8Array; value?: Uint8Array }[];
  };
  const kmsEntries = (m.encryptedDataKeyByKMSMasterKeyID ?? []).map((e) => ({
    keyHash: Buffer.from(e.key ?? []),
    encryptedDataKey: Buffer.from(e.value ?? []),
  }));
  if (m.scheme) throw new EncryptionInfoDecodeError(`unknown scheme ${m.scheme} (only AES256GCM = 0 exists)`);
  const salt = m.salt && m.salt.length > 0 ? Buffer.from(m.salt) : undefined;
  return withMap({ scheme: m.scheme ?? 0, salt, encryptedDataKeyByKMSMasterKeyID: new Map(), kmsEntries });
}

/**
 * Encodes to the wire form CockroachDB writes: default-valued fields omitted (proto3), so the
 * passphrase form is exactly 0x12 0x10 + salt. Entries come from the map (hex key -> raw bytes).
 */
export function encodeEncryptionInfo(info: EncryptionInfo): Buffer {
  const msg: Record<string, unknown> = {};
  if (info.scheme) msg.scheme = info.scheme;
  if (info.salt && info.salt.length > 0) msg.salt = info.salt;
  const entries = [...info.encryptedDataKeyByKMSMasterKeyID.entries()].map(([hex, value]) => ({
    key: Buffer.from(hex, 'hex'),
    value,
  }));
  if (entries.length > 0) msg.encryptedDataKeyByKMSMasterKeyID = entries;
  return Buffer.from(EncryptionInfoType.encode(EncryptionInfoType.fromObject(msg)).finish());
}

/** 1 for ENCRYPTION-INFO, N for ENCRYPTION-INFO-N, undefined for any other name. */
export function encryptionInfoIndex(name: string): number | undefined {
  const base = name.slice(name.lastIndexOf('/') + 1);
  if (base === ENCRYPTION_INFO_NAME) return 1;
  const m = /^ENCRYPTION-INFO-([1-9][0-9]*)$/.exec(base);
  return m ? Number(m[1]) : undefined;
}

/** Name of the next file to write beside the existing ones (object keys or base names). */
export function nextEncryptionInfoName(existing: Iterable<string>): string {
  let max = 0;
  for (const n of existing) max = Math.max(max, encryptionInfoIndex(n) ?? 0);
  return max === 0 ? ENCRYPTION_INFO_NAME : `${ENCRYPTION_INFO_NAME}-${max + 1}`;
}

export interface StoredEncryptionInfo {
  /** Object key in the store. */
  key: string;
  /** 1 for ENCRYPTION-INFO, N for ENCRYPTION-INFO-N. */
  index: number;
  info: EncryptionInfo;
}

/** Lists the ENCRYPTION-INFO files directly in dirKey (a full backup's directory), newest first. */
export async function listEncryptionInfoKeys(store: ObjectStore, dirKey: string): Promise<{ key: string; index: number }[]> {
  const dir = joinKey(dirKey);
  const prefix = dir ? `${dir}/${ENCRYPTION_INFO_NAME}` : ENCRYPTION_INFO_NAME;
  const found: { key: string; index: number }[] = [];
  for await (const o of store.list(prefix)) {
    const rest = dir ? o.key.slice(dir.length + 1) : o.key;
    if (rest.includes('/')) continue;
    const index = encryptionInfoIndex(rest);
    if (index !== undefined) found.push({ key: o.key, index });
  }
  return found.sort((a, b) => b.index - a.index);
}

/** Reads and decodes every ENCRYPTION-INFO file of a backup directory, newest first (empty if none). */
export async function readEncryptionInfos(store: ObjectStore, dirKey: string): Promise<StoredEncryptionInfo[]> {
  const out: StoredEncryptionInfo[] = [];
  for (const { key, index } of await listEncryptionInfoKeys(store, dirKey)) {
    out.push({ key, index, info: decodeEncryptionInfo(await store.read(key)) });
  }
  return out;
}
