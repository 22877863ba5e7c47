/**
 * Byte formats of the key chain CMEK -> store key -> data key (documented in docs/key-chain.md; keep the two
 * in step). Pure functions: no I/O, no KMS.
 *
 *   store-key object  "CRDBCMEK" 'S' 0x01 | size | storeKeyId | createdAt | provider | cmekKeyId | wrapped | mac
 *   data-key entry    "CRDBCMEK" 'D' 0x01 | nonce(12) | ciphertext(32) | tag(16)
 *
 * Both records carry a format version; every wrapping uses additional data (AAD) that binds the level
 * ("store-key" / "data-key"), the key IDs and the format version (see chainAad).
 */
import { gcmCipherName } from '../format/chunked';
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { IntegrityError } from '../errors';
import { joinKey } from '../storage/object-store';

export const CHAIN_MAGIC = Buffer.from('CRDBCMEK', 'ascii');
export const KIND_STORE_KEY_OBJECT = 0x53; // 'S'
export const KIND_DATA_KEY_ENTRY = 0x44; // 'D'
/** The only format version written and read so far (both record kinds). */
export const CHAIN_FORMAT_VERSION = 1;

export const STORE_KEY_ID_BYTES = 32;
export const DATA_KEY_BYTES = 32;
export const GCM_NONCE_BYTES = 12;
export const GCM_TAG_BYTES = 16;
export const MAC_BYTES = 32;
/** Upper bound of a store-key object; anything larger is refused unread. */
export const MAX_STORE_KEY_OBJECT_BYTES = 64 * 1024;
/** Size of a v1 data-key entry value: 10 + 12 + 32 + 16. */
export const DATA_KEY_ENTRY_BYTES = CHAIN_MAGIC.length + 2 + GCM_NONCE_BYTES + DATA_KEY_BYTES + GCM_TAG_BYTES;

export const LEVEL_STORE_KEY = 'store-key';
export const LEVEL_DATA_KEY = 'data-key';
export type ChainLevel = typeof LEVEL_STORE_KEY | typeof LEVEL_DATA_KEY;

const AAD_LABEL = Buffer.from('crdb-cmek-aad\u0000', 'ascii');
const MAC_KEY_LABEL = Buffer.from('crdb-cmek store-key object mac v1', 'ascii');

/** Length-prefixed field: u16 big-endian length, then the bytes. */
function lp(b: Buffer): Buffer {
  if (b.length > 0xffff) throw new RangeError(`AAD field too long (${b.length} bytes)`);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/**
 * AAD = "crdb-cmek-aad" 0x00 | version (u8) | lp(level) | lp(field)... with lp(x) = u16 BE length | x.
 * The fields per level are fixed (storeKeyAad / dataKeyAad); nothing here is secret.
 */
export function chainAad(version: number, level: ChainLevel, fields: Buffer[]): Buffer {
  return Buffer.concat([AAD_LABEL, Buffer.from([version]), lp(Buffer.from(level, 'ascii')), ...fields.map(lp)]);
}

/** AAD given to the CMEK when it wraps a store key. */
export function storeKeyAad(p: {
  version?: number;
  storeKeyId: Buffer;
  storeKeySize: number;
  cmekProvider: string;
  cmekKeyId: string;
}): Buffer {
  return chainAad(p.version ?? CHAIN_FORMAT_VERSION, LEVEL_STORE_KEY, [
    p.storeKeyId,
    Buffer.from([p.storeKeySize]),
    Buffer.from(p.cmekProvider, 'utf8'),
    Buffer.from(p.cmekKeyId, 'utf8'),
  ]);
}

/** AAD used when the store key wraps a full backup's data key. */
export function dataKeyAad(p: { version?: number; storeKeyId: Buffer; backupDir: string }): Buffer {
  return chainAad(p.version ?? CHAIN_FORMAT_VERSION, LEVEL_DATA_KEY, [
    p.storeKeyId,
    Buffer.from(normalizeBackupDir(p.backupDir), 'utf8'),
  ]);
}

/**
 * The backup identity bound into a data-key entry: the full backup's directory relative to the
 * collection root, '/'-separated, without leading/trailing '/' or empty segments ("2025/11/20-101500.00").
 */
export function normalizeBackupDir(dir: string): string {
  const n = joinKey(dir);
  if (n.length === 0) throw new RangeError('backup directory must not be empty');
  return n;
}

/** AES-GCM seal with a fresh 12-byte nonce: returns {nonce, ciphertext, tag}. */
export function gcmSeal(key: Buffer, plaintext: Buffer, aad: Buffer, nonce = randomBytes(GCM_NONCE_BYTES)) {
  const c = createCipheriv(gcmCipherName(key.length), key, nonce, { authTagLength: GCM_TAG_BYTES });
  c.setAAD(aad);
  const ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
  return { nonce, ciphertext, tag: c.getAuthTag() };
}

/** AES-GCM open; returns undefined when authentication fails (wrong key, wrong AAD, altered bytes). */
export function gcmOpen(key: Buffer, nonce: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Buffer | undefined {
  const d = createDecipheriv(gcmCipherName(key.length), key, nonce, { authTagLength: GCM_TAG_BYTES });
  d.setAAD(aad);
  d.setAuthTag(tag);
  try {
    return Buffer.concat([d.update(ciphertext), d.final()]);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------
// Data-key entry (the value of one ENCRYPTION-INFO map entry)

export interface DataKeyEnvelope {
  version: number;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

export function encodeDataKeyEnvelope(e: DataKeyEnvelope): Buffer {
  return Buffer.concat([CHAIN_MAGIC, Buffer.from([KIND_DATA_KEY_ENTRY, e.version]), e.nonce, e.ciphertext, e.tag]);
}

/** Parses a data-key entry value; IntegrityError when it is not one (wrong magic/kind/size/version). */
export function decodeDataKeyEnvelope(buf: Buffer, what = 'data-key entry'): DataKeyEnvelope {
  const head = CHAIN_MAGIC.length;
  if (buf.length < head + 2 || !buf.subarray(0, head).equals(CHAIN_MAGIC) || buf[head] !== KIND_DATA_KEY_ENTRY) {
    throw new IntegrityError(`${what} is not a crdb-cmek data-key entry (bad magic or kind)`);
  }
  const version = buf[head + 1];
  if (version !== CHAIN_FORMAT_VERSION) {
    throw new IntegrityError(`${what} has format version ${version}; this tool reads version ${CHAIN_FORMAT_VERSION}`);
  }
  if (buf.length !== DATA_KEY_ENTRY_BYTES) {
    throw new IntegrityError(`${what} is ${buf.length} bytes; a version-1 entry is ${DATA_KEY_ENTRY_BYTES}`);
  }
  let o = head + 2;
  const nonce = buf.subarray(o, (o += GCM_NONCE_BYTES));
  const ciphertext = buf.subarray(o, (o += DATA_KEY_BYTES));
  const tag = buf.subarray(o, (o += GCM_TAG_BYTES));
  return { version, nonce: Buffer.from(nonce), ciphertext: Buffer.from(ciphertext), tag: Buffer.from(tag) };
}

// ---------------------------------------------------------------------------------------------------
// Store-key object

/** The decoded store-key object. Holds no secret: the store key is only present wrapped by the CMEK. */
export interface StoreKeyObject {
  version: number;
  /** 16, 24 or 32 (bytes of AES key). */
  storeKeySize: number;
  /** 32-byte store key ID (text form: hex). */
  storeKeyId: Buffer;
  /** When the object was written (millisecond precision). */
  createdAt: Date;
  /** KmsProvider.provider of the CMEK ('aws-kms', 'gcp-kms', 'vault-transit', 'file'). */
  cmekProvider: string;
  /** KmsProvider.keyId of the CMEK (never credentials). */
  cmekKeyId: string;
  /** CMEK.encrypt(storeKeyId || storeKey, storeKeyAad(...)): opaque to this tool. */
  wrappedStoreKey: Buffer;
  /** HMAC-SHA256 over every preceding byte of the object, keyed from the store key (see macKey). */
  mac: Buffer;
  /** The bytes the MAC covers (everything before it). */
  macInput: Buffer;
}

/** Encodes everything but the MAC. */
export function encodeStoreKeyObjectBody(o: Omit<StoreKeyObject, 'mac' | 'macInput'>): Buffer {
  const provider = Buffer.from(o.cmekProvider, 'utf8');
  const keyId = Buffer.from(o.cmekKeyId, 'utf8');
  if (provider.length < 1 || provider.length > 0xff) throw new RangeError('CMEK provider name must be 1..255 bytes');
  if (keyId.length < 1 || keyId.length > 0xffff) throw new RangeError('CMEK key ID must be 1..65535 bytes');
  if (o.storeKeyId.length !== STORE_KEY_ID_BYTES) throw new RangeError('store key ID must be 32 bytes');
  gcmCipherName(o.storeKeySize);
  if (o.wrappedStoreKey.length < 1 || o.wrappedStoreKey.length > 0xffff) {
    throw new RangeError(`wrapped store key must be 1..65535 bytes, got ${o.wrappedStoreKey.length}`);
  }
  const created = Buffer.alloc(8);
  created.writeBigUInt64BE(BigInt(o.createdAt.getTime()));
  const pLen = Buffer.from([provider.length]);
  const kLen = Buffer.alloc(2);
  kLen.writeUInt16BE(keyId.length);
  const wLen = Buffer.alloc(4);
  wLen.writeUInt32BE(o.wrappedStoreKey.length);
  return Buffer.concat([
    CHAIN_MAGIC,
    Buffer.from([KIND_STORE_KEY_OBJECT, o.version, o.storeKeySize]),
    o.storeKeyId,
    created,
    pLen,
    provider,
    kLen,
    keyId,
    wLen,
    o.wrappedStoreKey,
  ]);
}

/** MAC key: HMAC-SHA256(storeKey, "crdb-cmek store-key object mac v1"). */
export function macKey(storeKey: Buffer): Buffer {
  return createHmac('sha256', storeKey).update(MAC_KEY_LABEL).digest();
}

export function storeKeyObjectMac(storeKey: Buffer, body: Buffer): Buffer {
  return createHmac('sha256', macKey(storeKey)).update(body).digest();
}

export function macMatches(storeKey: Buffer, o: StoreKeyObject): boolean {
  const want = storeKeyObjectMac(storeKey, o.macInput);
  return want.length === o.mac.length && timingSafeEqual(want, o.mac);
}

/** Parses a store-key object; IntegrityError when the bytes are not a well-formed version-1 object. */
export function decodeStoreKeyObject(buf: Buffer, what = 'store-key object'): StoreKeyObject {
  const bad = (why: string): never => {
    throw new IntegrityError(`${what} is damaged or not a crdb-cmek store-key object: ${why}`);
  };
  const head = CHAIN_MAGIC.length;
  if (buf.length < head + 3 || !buf.subarray(0, head).equals(CHAIN_MAGIC)) bad('bad magic');
  if (buf[head] !== KIND_STORE_KEY_OBJECT) bad(`kind byte 0x${buf[head].toString(16)} is not 0x53 ('S')`);
  const version = buf[head + 1];
  if (version !== CHAIN_FORMAT_VERSION) {
    throw new IntegrityError(`${what} has format version ${version}; this tool reads version ${CHAIN_FORMAT_VERSION}`);
  }
  const storeKeySize = buf[head + 2];
  if (storeKeySize !== 16 && storeKeySize !== 24 && storeKeySize !== 32) bad(`store key size ${storeKeySize} is not 16, 24 or 32`);
  let o = head + 3;
  const need = (n: number): void => {
    if (o + n > buf.length) bad('truncated');
  };
  need(STORE_KEY_ID_BYTES + 8 + 1);
  const storeKeyId = Buffer.from(buf.subarray(o, (o += STORE_KEY_ID_BYTES)));
  const ms = buf.readBigUInt64BE(o);
  o += 8;
  if (ms > BigInt(8.64e15)) bad('creation time out of range');
  const createdAt = new Date(Number(ms));
  const pLen = buf[o++];
  if (pLen === 0) bad('empty CMEK provider');
  need(pLen + 2);
  const cmekProvider = buf.subarray(o, (o += pLen)).toString('utf8');
  const kLen = buf.readUInt16BE(o);
  o += 2;
  if (kLen === 0) bad('empty CMEK key ID');
  need(kLen + 4);
  const cmekKeyId = buf.subarray(o, (o += kLen)).toString('utf8');
  const wLen = buf.readUInt32BE(o);
  o += 4;
  if (wLen === 0 || wLen > 0xffff) bad(`wrapped store key length ${wLen}`);
  need(wLen + MAC_BYTES);
  const wrappedStoreKey = Buffer.from(buf.subarray(o, (o += wLen)));
  const macInput = Buffer.from(buf.subarray(0, o));
  const mac = Buffer.from(buf.subarray(o, (o += MAC_BYTES)));
  if (o !== buf.length) bad(`${buf.length - o} trailing bytes`);
  // Text fields must round-trip exactly (no lossy UTF-8 replacement hiding a flipped byte).
  if (!Buffer.from(cmekProvider, 'utf8').equals(buf.subarray(head + 3 + 32 + 8 + 1, head + 3 + 32 + 8 + 1 + pLen))) {
    bad('CMEK provider is not valid UTF-8');
  }
  if (Buffer.byteLength(cmekKeyId, 'utf8') !== kLen || cmekKeyId.includes('\ufffd')) bad('CMEK key ID is not valid UTF-8');
  return { version, storeKeySize, storeKeyId, createdAt, cmekProvider, cmekKeyId, wrappedStoreKey, mac, macInput };
}
