/**
 * Data-key entries: a full backup's 32-byte data key wrapped by the store key (AES-GCM, fresh nonce, AAD
 * binding level, store key ID, backup directory and format version), stored as one entry of the backup's
 * EncryptionInfo map under SHA-256("crdb-cmek-store-key:" + storeKeyIdHex). CockroachDB ignores map
 * entries it has no KMS for, so the file stays a valid EncryptionInfo beside native KMS entries.
 */
import { IntegrityError } from '../errors';
import type { StoreKey } from '../keys/store-key';
import { kmsMapKey } from '../keys/encryption-info';
import {
  CHAIN_FORMAT_VERSION,
  DATA_KEY_BYTES,
  dataKeyAad,
  decodeDataKeyEnvelope,
  encodeDataKeyEnvelope,
  gcmOpen,
  gcmSeal,
  normalizeBackupDir,
} from './format';

export const STORE_KEY_ENTRY_PREFIX = 'crdb-cmek-store-key:';

/** The ID string whose SHA-256 keys a store key's entry in the EncryptionInfo map. */
export function storeKeyEntryId(storeKeyIdHex: string): string {
  if (!/^[0-9a-f]{64}$/.test(storeKeyIdHex)) throw new RangeError('store key ID must be 64 lowercase hex characters');
  return `${STORE_KEY_ENTRY_PREFIX}${storeKeyIdHex}`;
}

/** Raw 32-byte map key of a store key's entry. */
export function storeKeyEntryMapKey(storeKeyIdHex: string): Buffer {
  return kmsMapKey(storeKeyEntryId(storeKeyIdHex));
}

/** Wraps a data key for one full backup; returns the entry value (70 bytes, format version 1). */
export function wrapDataKey(sk: StoreKey, dataKey: Buffer, backupDir: string): Buffer {
  if (dataKey.length !== DATA_KEY_BYTES) throw new RangeError(`data key must be ${DATA_KEY_BYTES} bytes, got ${dataKey.length}`);
  const aad = dataKeyAad({ storeKeyId: sk.id, backupDir });
  const { nonce, ciphertext, tag } = gcmSeal(sk.key, dataKey, aad);
  return encodeDataKeyEnvelope({ version: CHAIN_FORMAT_VERSION, nonce, ciphertext, tag });
}

/**
 * Unwraps a data-key entry for the given backup directory. IntegrityError when it does not authenticate:
 * a different store key, an entry moved from another backup, a swapped level, or altered bytes.
 */
export function unwrapDataKey(sk: StoreKey, entryValue: Buffer, backupDir: string): Buffer {
  const dir = normalizeBackupDir(backupDir);
  const e = decodeDataKeyEnvelope(entryValue);
  const plain = gcmOpen(sk.key, e.nonce, e.ciphertext, e.tag, dataKeyAad({ version: e.version, storeKeyId: sk.id, backupDir: dir }));
  if (!plain) {
    throw new IntegrityError(
      `the data-key entry for store key ${sk.id.toString('hex')} does not authenticate for backup ${dir}: ` +
        'it was altered, or moved from another backup',
    );
  }
  return plain;
}
