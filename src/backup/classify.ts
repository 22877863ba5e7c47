/**
 * What each object of an encrypted backup collection is, and whether it must be ciphertext.
 *
 * In an encrypted backup CockroachDB encrypts everything it writes except a few objects that must be
 * readable before any key is known, or that carry no table data. Those are "cleartext by design"; every
 * other object must start with the "encrypt" preamble (spec/crdb-backup-format.md section 5).
 * Functions here look at the key only (relative to the collection or to a backup directory).
 */

import { STORE_KEY_OBJECT_PATTERN } from '../chain/store-key-object';
import { INCOMPLETE_MARKER } from '../engines/markers';

export type ObjectClass = 'ciphertext' | 'cleartext';

export type ObjectRole =
  | 'manifest' // BACKUP_MANIFEST, old BACKUP: gzip (not old BACKUP) protobuf, encrypted
  | 'metadata' // BACKUP_METADATA (23.1+ slim manifest) and its SSTs filelist.sst, descriptorslist.sst, metadata.sst
  | 'sst' // data/<n>.sst: table data
  | 'statistics' // BACKUP-STATISTICS*: protobuf, encrypted, not gzipped
  | 'checkpoint' // progress/BACKUP-CHECKPOINT-<hex>, BACKUP-CHECKPOINT, BACKUP-MANIFEST-CHECKPOINT: like the manifest
  | 'partition' // BACKUP_PART_*: locality partition descriptors
  | 'lock' // BACKUP-LOCK-<jobID>
  | 'encryption-info' // ENCRYPTION-INFO[-N]
  | 'checksum' // <name>-CHECKSUM
  | 'latest' // LATEST, metadata/latest/LATEST-<hex>
  | 'index' // metadata/index/* (25.4+ backup index)
  | 'store-key' // crdb-cmek/STORE-KEY[-N]: the CMEK chain's store key, wrapped by the CMEK (docs/key-chain.md)
  | 'marker' // CRDB-CMEK-INCOMPLETE: a crdb-cmek write in progress (src/engines/markers.ts)
  | 'other';

function baseName(key: string): string {
  const k = key.replace(/\/+$/, '');
  return k.slice(k.lastIndexOf('/') + 1);
}

/** Role of an object, from its key. */
export function objectRole(key: string): ObjectRole {
  const k = key.replace(/^\/+/, '');
  const name = baseName(k);
  // Collection-level pointers and index first: they are identified by their directory.
  if (k === 'metadata/latest' || k.startsWith('metadata/latest/')) return 'latest';
  if (k.startsWith('metadata/index/')) return 'index';
  if (STORE_KEY_OBJECT_PATTERN.test(k)) return 'store-key';
  if (k === INCOMPLETE_MARKER) return 'marker';
  if (name === 'LATEST' || /^LATEST-/.test(name)) return 'latest';
  if (name.endsWith('-CHECKSUM')) return 'checksum';
  if (/^ENCRYPTION-INFO(-\d+)?$/.test(name)) return 'encryption-info';
  if (name.startsWith('BACKUP-LOCK')) return 'lock';
  if (name === 'BACKUP_MANIFEST' || name === 'BACKUP') return 'manifest';
  if (name === 'BACKUP_METADATA') return 'metadata';
  if (name.startsWith('BACKUP-STATISTICS')) return 'statistics';
  if (name.startsWith('BACKUP-CHECKPOINT') || name.startsWith('BACKUP-MANIFEST-CHECKPOINT') || name.startsWith('BACKUP_MANIFEST-CHECKPOINT')) {
    return 'checkpoint';
  }
  if (name.startsWith('BACKUP_PART_')) return 'partition';
  if (name.endsWith('.sst')) {
    const parent = k.slice(0, k.length - name.length).replace(/\/$/, '');
    if (parent === 'data' || parent.endsWith('/data')) return 'sst';
    if (name === 'filelist.sst' || name === 'descriptorslist.sst' || name === 'metadata.sst' || name === 'fileinfo.sst') {
      return 'metadata';
    }
    return 'sst';
  }
  return 'other';
}

/**
 * Why an object stays cleartext in an encrypted backup, or undefined when it must be ciphertext.
 */
export function cleartextReason(key: string): string | undefined {
  switch (objectRole(key)) {
    case 'encryption-info':
      return 'ENCRYPTION-INFO holds the salt or the KMS-wrapped data keys needed to find the key; it cannot be encrypted with the key it leads to';
    case 'latest':
      return 'LATEST pointers name the newest full backup subdirectory and are read before any key is known; they hold only a path';
    case 'lock':
      return 'BACKUP-LOCK files claim a backup directory for one job before it writes; they hold the word "lock"';
    case 'checksum':
      return '-CHECKSUM files hold 4 bytes of SHA-256 of the stored (already encrypted) object; a digest of ciphertext reveals nothing';
    case 'index':
      return 'metadata/index files (25.4+) list the backups of the collection (times and paths) so they can be listed without a key; they hold no table data';
    case 'store-key':
      return 'the CMEK chain\'s store-key object holds the store key only wrapped by the CMEK, plus key IDs; it must be read before any key is known';
    case 'marker':
      return 'the in-progress marker names an unfinished crdb-cmek operation; it holds no key material or data';
    default:
      return undefined;
  }
}

/** Whether an object must be ciphertext ('ciphertext') or is cleartext by design ('cleartext'). */
export function classifyObject(key: string): ObjectClass {
  return cleartextReason(key) === undefined ? 'ciphertext' : 'cleartext';
}

/** True when the object is an SST table (data or metadata SST) that can be checked structurally after decryption. */
export function isSstKey(key: string): boolean {
  return baseName(key).endsWith('.sst');
}
