/**
 * Walking the chain CMEK -> store key -> data key, and changing it without rewriting data:
 *   - openStoreKeys / findDataKeyViaChain: read path (every store-key object version against every entry);
 *   - getOrCreateStoreKey / storeKeyEncryptionInfo: what a chain-protected backup writes;
 *   - rewrapStoreKey: move the chain to a new CMEK (one new store-key object per store key, O(1) in backups);
 *   - rotateStoreKey: a new store key, and a new ENCRYPTION-INFO-N per full backup holding its entry.
 * Nothing here overwrites an existing object; old paths are removed only with retireOld.
 */
import { IntegrityError, KeyError, StorageError, UsageError } from '../errors';
import type { KmsProvider } from '../kms/provider';
import type { ObjectStore } from '../storage/object-store';
import { joinKey } from '../storage/object-store';
import {
  ENCRYPTION_INFO_NAME,
  SCHEME_AES256GCM,
  decodeEncryptionInfo,
  encodeEncryptionInfo,
  encryptionInfoIndex,
  kmsEncryptionInfo,
  listEncryptionInfoKeys,
  nextEncryptionInfoName,
  readEncryptionInfos,
  type EncryptionInfo,
} from '../keys/encryption-info';
import type { StoreKey, StoreKeyBits } from '../keys/store-key';
import { normalizeBackupDir } from './format';
import { storeKeyEntryId, storeKeyEntryMapKey, unwrapDataKey, wrapDataKey } from './data-key';
import {
  STORE_KEY_OBJECT_NAME,
  cmekMismatchError,
  generateStoreKey,
  readStoreKeyObjects,
  storeKeyIdHex,
  unwrapDecodedStoreKey,
  unwrapStoreKey,
  wrapStoreKey,
  wrappedBy,
  writeStoreKeyObject,
  type StoredStoreKeyObject,
} from './store-key-object';

/** A store key opened through the CMEK, and the object version it came from. */
export interface OpenedStoreKey {
  storeKey: StoreKey;
  /** "crdb-cmek/STORE-KEY[-N]" */
  objectKey: string;
  index: number;
}

/**
 * Opens every distinct store key that this CMEK wraps, newest object version first.
 * KeyError: no store-key object, the CMEK is not the one that wrapped any version, or the CMEK refused.
 */
export async function openStoreKeys(store: ObjectStore, cmek: KmsProvider, stored?: StoredStoreKeyObject[]): Promise<OpenedStoreKey[]> {
  const objs = stored ?? (await readStoreKeyObjects(store));
  if (objs.length === 0) {
    throw new KeyError(
      `no store-key object (${STORE_KEY_OBJECT_NAME}) in ${store.displayUri}: this collection is not protected by a CMEK key chain`,
    );
  }
  const decoded = objs.filter((o) => o.object);
  const mine = decoded.filter((o) => wrappedBy(o.object!, cmek));
  if (mine.length === 0) {
    if (decoded.length === 0) throw objs[0].error!;
    throw cmekMismatchError(
      cmek,
      decoded.map((o) => o.object!),
    );
  }
  const opened: OpenedStoreKey[] = [];
  const seen = new Set<string>();
  let firstError: unknown;
  for (const o of mine) {
    const id = o.object!.storeKeyId.toString('hex');
    if (seen.has(id)) continue;
    try {
      const storeKey = await unwrapDecodedStoreKey(cmek, o.object!, o.key);
      opened.push({ storeKey, objectKey: o.key, index: o.index });
      seen.add(id);
    } catch (e) {
      firstError ??= e;
    }
  }
  if (opened.length === 0) throw firstError;
  return opened;
}

export interface ChainDataKey {
  dataKey: Buffer;
  /** Hex of the store key that opened the entry. */
  storeKeyId: string;
  /** The ENCRYPTION-INFO[-N] object that held the entry. */
  infoKey: string;
}

/** Finds a backup's data key among its ENCRYPTION-INFO files (newest first) with already-opened store keys. */
export function findDataKeyWithStoreKeys(
  storeKeys: OpenedStoreKey[],
  encryptionInfos: { key: string; info: EncryptionInfo }[],
  backupDir: string,
): ChainDataKey {
  const dir = normalizeBackupDir(backupDir);
  let firstError: unknown;
  for (const { storeKey } of storeKeys) {
    const hex = storeKeyIdHex(storeKey);
    const mapKey = storeKeyEntryMapKey(hex).toString('hex');
    for (const { key, info } of encryptionInfos) {
      const value = info.encryptedDataKeyByKMSMasterKeyID.get(mapKey);
      if (!value) continue;
      try {
        return { dataKey: unwrapDataKey(storeKey, value, dir), storeKeyId: hex, infoKey: key };
      } catch (e) {
        firstError ??= e instanceof IntegrityError ? new IntegrityError(`${key}: ${e.message}`) : e;
      }
    }
  }
  if (firstError) throw firstError;
  const ids = storeKeys.map((s) => storeKeyIdHex(s.storeKey)).join(', ');
  const files = encryptionInfos.map((i) => i.key).join(', ') || 'none found';
  throw new KeyError(
    `backup ${dir} has no data-key entry for the store key ${ids} that the CMEK opens (ENCRYPTION-INFO files: ${files})`,
    'the backup may be protected by a passphrase or a native KMS instead, or by a store key that was retired',
  );
}

/** CMEK -> store key(s) -> this backup's data key. */
export async function findDataKeyViaChain(
  store: ObjectStore,
  cmek: KmsProvider,
  encryptionInfos: { key: string; info: EncryptionInfo }[],
  backupDir: string,
): Promise<ChainDataKey> {
  return findDataKeyWithStoreKeys(await openStoreKeys(store, cmek), encryptionInfos, backupDir);
}

/**
 * The collection's current store key for writing a new backup: the newest version this CMEK opens, or,
 * when the collection has no store-key object yet, a new one (of `bits`) wrapped, written and re-read.
 */
export async function getOrCreateStoreKey(
  store: ObjectStore,
  cmek: KmsProvider,
  opts: { bits?: StoreKeyBits; now?: Date } = {},
): Promise<{ storeKey: StoreKey; objectKey: string; created: boolean }> {
  const objs = await readStoreKeyObjects(store);
  if (objs.length > 0) {
    const [newest] = await openStoreKeys(store, cmek, objs);
    return { storeKey: newest.storeKey, objectKey: newest.objectKey, created: false };
  }
  const storeKey = generateStoreKey(opts.bits ?? 256);
  const objectKey = await writeVerifiedStoreKeyObject(store, cmek, storeKey, opts.now);
  return { storeKey, objectKey, created: true };
}

/** An EncryptionInfo (KMS scheme) holding this store key's entry for the backup, plus any native entries. */
export function storeKeyEncryptionInfo(
  sk: StoreKey,
  dataKey: Buffer,
  backupDir: string,
  nativeEntries: Iterable<[masterKeyId: string, wrapped: Buffer]> = [],
): EncryptionInfo {
  return kmsEncryptionInfo([...nativeEntries, [storeKeyEntryId(storeKeyIdHex(sk)), wrapDataKey(sk, dataKey, backupDir)]]);
}

async function writeVerifiedStoreKeyObject(store: ObjectStore, cmek: KmsProvider, sk: StoreKey, now?: Date): Promise<string> {
  const bytes = await wrapStoreKey(cmek, sk, { now });
  const key = await writeStoreKeyObject(store, bytes);
  const back = await unwrapStoreKey(cmek, await store.read(key), key);
  if (!back.id.equals(sk.id) || !back.key.equals(sk.key)) {
    throw new IntegrityError(`${key} was written but does not open to the same store key`);
  }
  return key;
}

// ---------------------------------------------------------------------------------------------------
// Rewrap: move the chain to a new CMEK

export interface RewrapResult {
  /** New store-key object versions, oldest store key first. */
  written: { objectKey: string; storeKeyId: string }[];
  /** Store-key objects deleted (only with retireOld). */
  retired: string[];
  /** Backup directories verified to open through the new CMEK. */
  verified: string[];
}

/**
 * Writes a NEW store-key object version, wrapped by newCmek, for every store key that oldCmek opens
 * (normally one). No data and no ENCRYPTION-INFO is touched. Before returning, each new version is read
 * back and opened with newCmek, and each backup in verifyBackupDirs is opened through the new CMEK.
 * retireOld: afterwards delete the versions wrapped by oldCmek, so the old CMEK opens nothing.
 */
export async function rewrapStoreKey(
  store: ObjectStore,
  oldCmek: KmsProvider,
  newCmek: KmsProvider,
  opts: { retireOld?: boolean; verifyBackupDirs?: string[]; now?: Date } = {},
): Promise<RewrapResult> {
  const before = await readStoreKeyObjects(store);
  const opened = await openStoreKeys(store, oldCmek, before);
  const written: RewrapResult['written'] = [];
  // Oldest first, so the newest store key stays in the newest version.
  for (const o of [...opened].reverse()) {
    const objectKey = await writeVerifiedStoreKeyObject(store, newCmek, o.storeKey, opts.now);
    written.push({ objectKey, storeKeyId: storeKeyIdHex(o.storeKey) });
  }
  const verified: string[] = [];
  if (opts.verifyBackupDirs && opts.verifyBackupDirs.length > 0) {
    const viaNew = await openStoreKeys(store, newCmek);
    for (const dir of opts.verifyBackupDirs) {
      findDataKeyWithStoreKeys(viaNew, await readEncryptionInfos(store, dir), dir);
      verified.push(normalizeBackupDir(dir));
    }
  }
  const retired: string[] = [];
  const sameCmek = oldCmek.provider === newCmek.provider && oldCmek.keyId === newCmek.keyId;
  if (opts.retireOld && !sameCmek) {
    for (const o of before) {
      if (o.object && wrappedBy(o.object, oldCmek)) {
        await store.delete(o.key);
        retired.push(o.key);
      }
    }
  }
  for (const o of opened) o.storeKey.key.fill(0);
  return { written, retired, verified };
}

// ---------------------------------------------------------------------------------------------------
// Rotate: a new store key, new entries beside the old ones

export interface RotateResult {
  /** Hex ID of the new store key. */
  storeKeyId: string;
  /** Its store-key object. */
  objectKey: string;
  /** One new ENCRYPTION-INFO-N per backup. */
  written: { dir: string; infoKey: string }[];
  /** Store-key objects of other store keys deleted (only with retireOld). */
  retired: string[];
}

/**
 * Generates a new store key, wraps it with the CMEK into a new store-key object version, and for each
 * full backup adds a NEW ENCRYPTION-INFO-N (never overwriting one) whose only entry is the backup's data
 * key wrapped by the new store key. Every backup must open through the current chain first, and every
 * new file is read back and opened before the next step. Data objects are never touched.
 *
 * retireOld: after every backup verified, delete the store-key objects of every other store key, so old
 * entries (still present in the older ENCRYPTION-INFO files) can no longer be opened by anyone. Refused
 * when a full backup that is not in `backups` depends on a store key that would be retired.
 */
export async function rotateStoreKey(
  store: ObjectStore,
  cmek: KmsProvider,
  backups: { dir: string; encryptionInfoKeys?: string[] }[],
  opts: { bits?: StoreKeyBits; retireOld?: boolean; now?: Date } = {},
): Promise<RotateResult> {
  const before = await readStoreKeyObjects(store);
  const opened = await openStoreKeys(store, cmek, before);
  const dirs = [...new Set(backups.map((b) => normalizeBackupDir(b.dir)))];

  // 1. Every backup must open now (nothing is written if one does not).
  const dataKeys = new Map<string, Buffer>();
  for (const dir of dirs) {
    dataKeys.set(dir, findDataKeyWithStoreKeys(opened, await readEncryptionInfos(store, dir), dir).dataKey);
  }
  if (opts.retireOld) await refuseRetiringInUse(store, before, dirs);

  // 2. The new store key, wrapped by the CMEK.
  const sk = generateStoreKey(opts.bits ?? ((opened[0].storeKey.key.length * 8) as StoreKeyBits));
  const objectKey = await writeVerifiedStoreKeyObject(store, cmek, sk, opts.now);
  const newId = storeKeyIdHex(sk);

  // 3. One new ENCRYPTION-INFO-N per backup, verified.
  const written: RotateResult['written'] = [];
  for (const dir of dirs) {
    const dataKey = dataKeys.get(dir)!;
    const existing = (await listEncryptionInfoKeys(store, dir)).map((e) => e.key);
    const infoKey = joinKey(dir, nextEncryptionInfoName(existing));
    if (await store.stat(infoKey)) throw new StorageError(`refusing to overwrite ${store.displayUri}/${infoKey}`);
    await store.write(infoKey, encodeEncryptionInfo(storeKeyEncryptionInfo(sk, dataKey, dir)));
    const back = decodeEncryptionInfo(await store.read(infoKey));
    const check = findDataKeyWithStoreKeys([{ storeKey: sk, objectKey, index: 0 }], [{ key: infoKey, info: back }], dir);
    if (!check.dataKey.equals(dataKey)) throw new IntegrityError(`${infoKey} was written but does not open to the backup's data key`);
    written.push({ dir, infoKey });
  }

  // 4. Optionally retire every other store key.
  const retired: string[] = [];
  if (opts.retireOld) {
    for (const o of before) {
      if (o.object && o.object.storeKeyId.toString('hex') !== newId) {
        await store.delete(o.key);
        retired.push(o.key);
      }
    }
  }
  for (const k of dataKeys.values()) k.fill(0);
  for (const o of opened) o.storeKey.key.fill(0);
  return { storeKeyId: newId, objectKey, written, retired };
}

/** UsageError when a full backup outside `dirs` has an entry for a store key that retiring would remove. */
async function refuseRetiringInUse(store: ObjectStore, before: StoredStoreKeyObject[], dirs: string[]): Promise<void> {
  const retiring = new Map<string, string>();
  for (const o of before) {
    if (o.object) {
      const hex = o.object.storeKeyId.toString('hex');
      retiring.set(storeKeyEntryMapKey(hex).toString('hex'), hex);
    }
  }
  const inList = new Set(dirs);
  for await (const obj of store.list('')) {
    const slash = obj.key.lastIndexOf('/');
    const base = obj.key.slice(slash + 1);
    if (!base.startsWith(ENCRYPTION_INFO_NAME) || encryptionInfoIndex(base) === undefined) continue;
    const dir = slash >= 0 ? obj.key.slice(0, slash) : '';
    if (inList.has(dir) || dir === '') continue;
    let info: EncryptionInfo;
    try {
      info = decodeEncryptionInfo(await store.read(obj.key));
    } catch {
      continue;
    }
    if (info.scheme !== SCHEME_AES256GCM) continue;
    for (const k of info.encryptedDataKeyByKMSMasterKeyID.keys()) {
      if (retiring.has(k)) {
        throw new UsageError(
          `cannot retire store key ${retiring.get(k)}: backup ${dir} (${obj.key}) depends on it and is not being rotated`,
          'rotate every full backup of the collection, or rotate without retiring the old store key',
        );
      }
    }
  }
}
