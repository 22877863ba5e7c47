/**
 * The store-key object: the collection's store key, wrapped by the CMEK, in one small cleartext object at
 * the collection root. Versions are never overwritten: rewrapping or rotating writes the next one.
 *
 *   crdb-cmek/STORE-KEY       version 1
 *   crdb-cmek/STORE-KEY-2     version 2, -3, ... (newest = highest N)
 *
 * Cleartext by design (the store key inside is only present wrapped by the CMEK).
 */
import { KeyError, IntegrityError, StorageError } from '../errors';
import type { KmsProvider } from '../kms/provider';
import type { ObjectStore } from '../storage/object-store';
import { generateStoreKey as generateStoreKeyFile, type StoreKey, type StoreKeyBits } from '../keys/store-key';
import {
  CHAIN_FORMAT_VERSION,
  MAX_STORE_KEY_OBJECT_BYTES,
  STORE_KEY_ID_BYTES,
  decodeStoreKeyObject,
  encodeStoreKeyObjectBody,
  macMatches,
  storeKeyAad,
  storeKeyObjectMac,
  type StoreKeyObject,
} from './format';

export type { StoreKey, StoreKeyBits } from '../keys/store-key';

export const STORE_KEY_DIR = 'crdb-cmek';
export const STORE_KEY_OBJECT_NAME = `${STORE_KEY_DIR}/STORE-KEY`;
/** Every store-key object name matches this (relative to the collection root). */
export const STORE_KEY_OBJECT_PATTERN = /^crdb-cmek\/STORE-KEY(?:-([1-9][0-9]*))?$/;

/** 1 for crdb-cmek/STORE-KEY, N for crdb-cmek/STORE-KEY-N, undefined for any other key. */
export function storeKeyObjectIndex(key: string): number | undefined {
  const m = STORE_KEY_OBJECT_PATTERN.exec(key);
  if (!m) return undefined;
  return m[1] ? Number(m[1]) : 1;
}

export function storeKeyObjectName(index: number): string {
  if (!Number.isInteger(index) || index < 1) throw new RangeError(`bad store-key object index ${index}`);
  return index === 1 ? STORE_KEY_OBJECT_NAME : `${STORE_KEY_OBJECT_NAME}-${index}`;
}

/** A new random store key (32-byte ID + AES key), the same shape as `cockroach gen encryption-key`. */
export function generateStoreKey(bits: StoreKeyBits = 256): StoreKey {
  return generateStoreKeyFile(bits);
}

export function storeKeyIdHex(sk: StoreKey | Buffer): string {
  return (Buffer.isBuffer(sk) ? sk : sk.id).toString('hex');
}

/** How the CMEK is named in messages: "<provider> key <keyId>". */
export function cmekLabel(provider: string, keyId: string): string {
  return `${provider} key ${keyId}`;
}

async function cmekEncrypt(cmek: KmsProvider, plaintext: Buffer, aad: Buffer): Promise<Buffer> {
  return cmek.encrypt(plaintext, aad);
}

async function cmekDecrypt(cmek: KmsProvider, ciphertext: Buffer, aad: Buffer): Promise<Buffer> {
  return cmek.decrypt(ciphertext, aad);
}

/**
 * The service's reason for a refusal: "<reason>: <detail>" from a KmsRefusedError (e.g.
 * "DisabledException: arn:... is disabled"), else the error's own (already scrubbed) message.
 */
function reasonOf(e: unknown): string {
  const r = e as { reason?: unknown; detail?: unknown; message?: unknown };
  if (typeof r?.reason === 'string' && r.reason) {
    return typeof r.detail === 'string' && r.detail ? `${r.reason}: ${r.detail}` : r.reason;
  }
  return e instanceof Error ? e.message : String(e);
}

/**
 * The CMEK refused to wrap or unwrap the store key (disabled, deleted, permission revoked, or a wrapped
 * key it cannot open). Exit 3; the message starts "the CMEK refused: <service reason>".
 */
export class CmekRefusedError extends KeyError {
  /** The service's own reason (e.g. "DisabledException: ... is disabled"). */
  readonly reason: string;
  readonly provider: string;
  readonly keyId: string;
  constructor(cmek: KmsProvider, cause: unknown, doing: string, hint?: string) {
    const reason = reasonOf(cause);
    super(`the CMEK refused: ${reason} (${cmekLabel(cmek.provider, cmek.keyId)}, ${doing})`, hint);
    this.reason = reason;
    this.provider = cmek.provider;
    this.keyId = cmek.keyId;
  }
}

/** Wraps a store key with the CMEK and returns the bytes of a store-key object. */
export async function wrapStoreKey(cmek: KmsProvider, sk: StoreKey, opts: { now?: Date } = {}): Promise<Buffer> {
  if (sk.id.length !== STORE_KEY_ID_BYTES) throw new RangeError('store key ID must be 32 bytes');
  const aad = storeKeyAad({ storeKeyId: sk.id, storeKeySize: sk.key.length, cmekProvider: cmek.provider, cmekKeyId: cmek.keyId });
  let wrapped: Buffer;
  try {
    wrapped = await cmekEncrypt(cmek, Buffer.concat([sk.id, sk.key]), aad);
  } catch (e) {
    throw new CmekRefusedError(
      cmek,
      e,
      'wrapping the store key',
      `check that ${cmek.displayUri} is enabled and that you may encrypt with it`,
    );
  }
  const body = encodeStoreKeyObjectBody({
    version: CHAIN_FORMAT_VERSION,
    storeKeySize: sk.key.length,
    storeKeyId: sk.id,
    createdAt: opts.now ?? new Date(),
    cmekProvider: cmek.provider,
    cmekKeyId: cmek.keyId,
    wrappedStoreKey: wrapped,
  });
  return Buffer.concat([body, storeKeyObjectMac(sk.key, body)]);
}

/** True when the object was wrapped by this CMEK (same provider and key ID). */
export function wrappedBy(o: StoreKeyObject, cmek: KmsProvider): boolean {
  return o.cmekProvider === cmek.provider && o.cmekKeyId === cmek.keyId;
}

export function cmekMismatchError(cmek: KmsProvider, wrappers: { cmekProvider: string; cmekKeyId: string }[]): KeyError {
  const mine = cmek.provider === wrappers[0]?.cmekProvider ? cmek.keyId : cmekLabel(cmek.provider, cmek.keyId);
  const theirs = [...new Set(wrappers.map((w) => (w.cmekProvider === cmek.provider ? w.cmekKeyId : cmekLabel(w.cmekProvider, w.cmekKeyId))))];
  return new KeyError(
    `the CMEK ${mine} does not match the store-key object (it was wrapped by ${theirs.join(', ')})`,
    'pass the CMEK that wraps this collection\'s store key (--cmek URI)',
  );
}

/**
 * Opens a store-key object with the CMEK. KeyError when the CMEK is not the one that wrapped it or
 * refuses (the service's reason is named); IntegrityError when the object is damaged or was altered.
 */
export async function unwrapStoreKey(cmek: KmsProvider, objectBytes: Buffer, what = 'store-key object'): Promise<StoreKey> {
  const o = decodeStoreKeyObject(objectBytes, what);
  return unwrapDecodedStoreKey(cmek, o, what);
}

export async function unwrapDecodedStoreKey(cmek: KmsProvider, o: StoreKeyObject, what = 'store-key object'): Promise<StoreKey> {
  if (!wrappedBy(o, cmek)) throw cmekMismatchError(cmek, [o]);
  const aad = storeKeyAad({ version: o.version, storeKeyId: o.storeKeyId, storeKeySize: o.storeKeySize, cmekProvider: o.cmekProvider, cmekKeyId: o.cmekKeyId });
  let plain: Buffer;
  try {
    plain = await cmekDecrypt(cmek, o.wrappedStoreKey, aad);
  } catch (e) {
    throw new CmekRefusedError(
      cmek,
      e,
      `unwrapping the store key in ${what}`,
      `${cmek.displayUri} could not unwrap the store key in ${what}; if the key is enabled and you may decrypt with it, the object may have been altered`,
    );
  }
  const tampered = (): never => {
    plain.fill(0);
    throw new IntegrityError(`${what} is damaged or was tampered with: its contents do not authenticate`);
  };
  if (plain.length !== STORE_KEY_ID_BYTES + o.storeKeySize) tampered();
  if (!plain.subarray(0, STORE_KEY_ID_BYTES).equals(o.storeKeyId)) tampered();
  const key = Buffer.from(plain.subarray(STORE_KEY_ID_BYTES));
  plain.fill(0);
  if (!macMatches(key, o)) {
    key.fill(0);
    tampered();
  }
  return { id: Buffer.from(o.storeKeyId), key };
}

export interface StoredStoreKeyObject {
  /** Object key, e.g. "crdb-cmek/STORE-KEY-2". */
  key: string;
  /** 1 for STORE-KEY, N for STORE-KEY-N. */
  index: number;
  bytes: Buffer;
  /** The decoded object, or the reason it could not be decoded. */
  object?: StoreKeyObject;
  error?: Error;
}

/** Lists the store-key object names with their version index, newest first. */
export async function listStoreKeyObjects(store: ObjectStore): Promise<{ key: string; index: number; size: number }[]> {
  const out: { key: string; index: number; size: number }[] = [];
  for await (const o of store.list(STORE_KEY_OBJECT_NAME)) {
    const index = storeKeyObjectIndex(o.key);
    if (index !== undefined) out.push({ key: o.key, index, size: o.size });
  }
  return out.sort((a, b) => b.index - a.index);
}

/** Reads every store-key object version, newest first. Damaged ones are returned with `error` set. */
export async function readStoreKeyObjects(store: ObjectStore): Promise<StoredStoreKeyObject[]> {
  const out: StoredStoreKeyObject[] = [];
  for (const { key, index, size } of await listStoreKeyObjects(store)) {
    if (size > MAX_STORE_KEY_OBJECT_BYTES) {
      out.push({ key, index, bytes: Buffer.alloc(0), error: new IntegrityError(`${key} is ${size} bytes: too large to be a store-key object`) });
      continue;
    }
    const bytes = await store.read(key);
    try {
      out.push({ key, index, bytes, object: decodeStoreKeyObject(bytes, key) });
    } catch (e) {
      out.push({ key, index, bytes, error: e as Error });
    }
  }
  return out;
}

/**
 * Writes bytes as the next store-key object version (never overwriting one) and returns its key.
 * Object stores have no create-if-absent here, so the write is checked before and read back after:
 * a concurrent writer that wins the same name makes this fail with StorageError, never silently.
 */
export async function writeStoreKeyObject(store: ObjectStore, bytes: Buffer): Promise<string> {
  decodeStoreKeyObject(bytes, 'the store-key object to write');
  const existing = await listStoreKeyObjects(store);
  const next = existing.length > 0 ? existing[0].index + 1 : 1;
  const key = storeKeyObjectName(next);
  if (await store.stat(key)) {
    throw new StorageError(`refusing to overwrite ${store.displayUri}/${key}: it appeared while writing`);
  }
  await store.write(key, bytes);
  const back = await store.read(key);
  if (!back.equals(bytes)) {
    throw new StorageError(`${store.displayUri}/${key} holds other bytes than were written (a concurrent writer?)`);
  }
  return key;
}
