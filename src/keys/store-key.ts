/**
 * CockroachDB store-key files (`cockroach gen encryption-key -s 128|192|256 FILE`): a 32-byte key ID
 * followed by the 16, 24 or 32-byte AES key (48, 56 or 64 bytes in all). The key ID's text form is its hex.
 */
import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors';

export const STORE_KEY_ID_LENGTH = 32;
export type StoreKeyBits = 128 | 192 | 256;

export interface StoreKey {
  /** 32-byte key ID. */
  id: Buffer;
  /** 16, 24 or 32-byte AES key. */
  key: Buffer;
}

const KEY_LENGTHS = new Set([16, 24, 32]);

/** Parses a store-key file's bytes; UsageError when the size is not 48, 56 or 64. */
export function parseStoreKeyFile(buf: Buffer, what = 'store key file'): StoreKey {
  const keyLen = buf.length - STORE_KEY_ID_LENGTH;
  if (!KEY_LENGTHS.has(keyLen)) {
    throw new UsageError(
      `${what} is not a CockroachDB store key: it must be 48, 56 or 64 bytes (32-byte key ID + 16/24/32-byte AES key), it is ${buf.length}`,
    );
  }
  return {
    id: Buffer.from(buf.subarray(0, STORE_KEY_ID_LENGTH)),
    key: Buffer.from(buf.subarray(STORE_KEY_ID_LENGTH)),
  };
}

/** The file bytes of a store key. */
export function encodeStoreKey(k: StoreKey): Buffer {
  if (k.id.length !== STORE_KEY_ID_LENGTH) throw new RangeError(`store key ID must be 32 bytes, got ${k.id.length}`);
  if (!KEY_LENGTHS.has(k.key.length)) throw new RangeError(`store key must be 16, 24 or 32 bytes, got ${k.key.length}`);
  return Buffer.concat([k.id, k.key]);
}

/** A new random store key of the given AES size. */
export function generateStoreKey(bits: StoreKeyBits = 256): StoreKey {
  if (bits !== 128 && bits !== 192 && bits !== 256) throw new UsageError(`key size must be 128, 192 or 256, got ${bits}`);
  return { id: randomBytes(STORE_KEY_ID_LENGTH), key: randomBytes(bits / 8) };
}

/** Key ID as text: hex of the 32 ID bytes (what CockroachDB prints). */
export function keyIdHex(k: StoreKey): string {
  return k.id.toString('hex');
}
