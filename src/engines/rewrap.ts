/**
 * `backup rewrap`: change the way into a collection's data without rewriting any data object.
 *
 *   add-kms        per selected full backup, a NEW ENCRYPTION-INFO-N holding the data key wrapped by each
 *                  new KMS (no AAD), exactly as CockroachDB's ALTER BACKUP ... ADD NEW_KMS writes it
 *                  (pkg/backup/alter_backup_planning.go: a fresh map with only the NEW_KMS entries, file
 *                  name ENCRYPTION-INFO-<files+1>). One deliberate addition: when the backup is
 *                  passphrase-encrypted, the new file also carries the backup's 16-byte salt, because
 *                  CockroachDB's passphrase RESTORE takes the salt from the NEWEST ENCRYPTION-INFO file
 *                  (GetEncryptionFromBaseStore: opts[0].Salt) and would otherwise derive a wrong key.
 *   to-cmek        the chain moves to a new CMEK: one new store-key object per store key (O(1)).
 *   new-store-key  a new store key and one new ENCRYPTION-INFO-N per selected full backup.
 *
 * Every operation first proves the current key opens each selected backup (chunk 0 of every layer's
 * manifest authenticates), then writes only new objects, then opens the data again through the NEW
 * path before it reports success. The old path stays unless retireOld; retiring happens last.
 */
import { type Collection, type FullBackup } from '../backup/layout';
import {
  findDataKeyWithStoreKeys,
  openStoreKeys,
  readStoreKeyObjects,
  rewrapStoreKey,
  rotateStoreKey,
  wrappedBy,
} from '../chain';
import { IntegrityError, KeyError, StorageError, UsageError } from '../errors';
import { ChunkedReader, CHUNK_SIZE } from '../format/chunked';
import { FormatError } from '../format/errors';
import {
  decodeEncryptionInfo,
  encodeEncryptionInfo,
  kmsEncryptionInfo,
  kmsMapKey,
  listEncryptionInfoKeys,
  nextEncryptionInfoName,
  readEncryptionInfos,
  type EncryptionInfo,
} from '../keys/encryption-info';
import type { StoreKeyBits } from '../keys/store-key';
import type { KmsProvider } from '../kms/provider';
import type { ObjectStore } from '../storage/object-store';
import { joinKey } from '../storage/object-store';
import type { Keyring } from './keyring';

export type RewrapAction =
  | { kind: 'add-kms'; kms: KmsProvider[] }
  | { kind: 'to-cmek'; newCmek: KmsProvider }
  | { kind: 'new-store-key'; bits?: StoreKeyBits };

export interface RewrapOptions {
  store: ObjectStore;
  collection: Collection;
  /** The current key (passphrase, native KMS, CMEK chain): used by add-kms. */
  keyring: Keyring;
  /** The current CMEK: required by to-cmek and new-store-key. */
  cmek?: KmsProvider;
  action: RewrapAction;
  retireOld?: boolean;
  now?: Date;
}

export interface KeyRef {
  provider: string;
  keyId: string;
  /** SHA-256 of the key ID (hex): the ENCRYPTION-INFO map key, for native KMS entries. */
  mapKey?: string;
}

export interface RewrapBackup {
  dir: string;
  /** How the current key opened it ("passphrase", "kms:<id>", "cmek:<id>"). */
  openedVia: string;
  /** How the new path opened it after the change. */
  verifiedVia: string;
  /** ENCRYPTION-INFO-N written for this backup, if any. */
  written?: string;
  /** Manifests whose chunk 0 authenticated through the new path. */
  verifiedObjects: string[];
}

export interface RewrapResult {
  action: RewrapAction['kind'];
  /** New objects written (never an overwrite), in order. */
  written: string[];
  /** Objects deleted because of retireOld. */
  retired: string[];
  backups: RewrapBackup[];
  keys: {
    from?: KeyRef;
    to: KeyRef[];
    /** Store key IDs (hex) involved: rewrapped ones (to-cmek) or the new one (new-store-key). */
    storeKeys?: string[];
  };
  /** Data objects written: always 0 (recorded so the claim is part of the output). */
  dataObjectsWritten: 0;
  durationMs: number;
}

/** Chunk 0 of every layer manifest (or of the first ciphertext object when a layer has none) under key. */
export async function proveKeyOpens(store: ObjectStore, backup: FullBackup, key: Buffer): Promise<{ ok: string[]; failed?: { path: string; error: string } }> {
  const ok: string[] = [];
  for (const layer of backup.layers) {
    const target = layer.manifestKey ?? layer.objects.find((o) => o.key.endsWith('.sst'))?.key;
    if (!target) continue;
    const info = await store.stat(target);
    if (!info) continue;
    const reader = new ChunkedReader({ size: info.size, read: (a, b) => store.readRange(target, a, b) }, key);
    try {
      await reader.read(0, Math.min(CHUNK_SIZE, await reader.open()));
      ok.push(target);
    } catch (e) {
      if (e instanceof FormatError) return { ok, failed: { path: target, error: e.message } };
      throw e;
    }
  }
  if (ok.length === 0) return { ok, failed: { path: backup.dir || '.', error: 'no manifest or SST to open' } };
  return { ok };
}

async function requireOpens(store: ObjectStore, backup: FullBackup, key: Buffer, via: string, phase: 'current' | 'new'): Promise<string[]> {
  const r = await proveKeyOpens(store, backup, key);
  if (r.failed) {
    if (phase === 'current') {
      throw new KeyError(
        `the current key (${via}) does not open backup ${backup.dir || '.'}: ${r.failed.path}: ${r.failed.error}; nothing was written`,
      );
    }
    throw new IntegrityError(
      `the new path (${via}) does not open backup ${backup.dir || '.'}: ${r.failed.path}: ${r.failed.error}; the old path was left intact`,
    );
  }
  return r.ok;
}

function ref(k: KmsProvider, withMapKey = false): KeyRef {
  return { provider: k.provider, keyId: k.keyId, ...(withMapKey ? { mapKey: kmsMapKey(k.keyId).toString('hex') } : {}) };
}

export async function rewrap(o: RewrapOptions): Promise<RewrapResult> {
  const started = Date.now();
  if (o.collection.selected.length === 0) throw new UsageError(`no full backup selected in ${o.store.displayUri}`);
  switch (o.action.kind) {
    case 'add-kms':
      return addKms(o, o.action.kms, started);
    case 'to-cmek':
      return toCmek(o, o.action.newCmek, started);
    case 'new-store-key':
      return newStoreKey(o, o.action.bits, started);
  }
}

function requireCmek(o: RewrapOptions, what: string): KmsProvider {
  if (!o.cmek) throw new UsageError(`${what} needs the current CMEK: pass --cmek URI`);
  return o.cmek;
}

// ---------------------------------------------------------------------------------------------------

async function addKms(o: RewrapOptions, kms: KmsProvider[], started: number): Promise<RewrapResult> {
  const { store } = o;
  if (kms.length === 0) throw new UsageError('--add-kms needs at least one KMS URI');
  if (o.retireOld) throw new UsageError('--retire-old does not apply to --add-kms: ENCRYPTION-INFO files are never rewritten or deleted');
  const ids = new Set<string>();
  for (const k of kms) {
    if (ids.has(k.keyId)) throw new UsageError(`--add-kms names the key ${k.keyId} twice`);
    ids.add(k.keyId);
  }
  // 1. Every selected backup opens with the current key, before anything is written.
  const plans: { backup: FullBackup; dataKey: Buffer; via: string; salt?: Buffer }[] = [];
  for (const backup of o.collection.selected) {
    const infos = await readEncryptionInfos(store, backup.dir);
    const r = await o.keyring.dataKeyFor(backup.dir, infos);
    await requireOpens(store, backup, r.key, r.via, 'current');
    const salt = infos.find((i) => i.info.salt && i.info.salt.length > 0)?.info.salt;
    plans.push({ backup, dataKey: r.key, via: r.via, salt });
  }
  const written: string[] = [];
  const backups: RewrapBackup[] = [];
  for (const p of plans) {
    const dir = p.backup.dir;
    // 2. Wrap with each new KMS: plain encrypt, no additional data (CockroachDB's GetEncryptedDataKeyFromURI).
    const entries: [string, Buffer][] = [];
    for (const k of kms) entries.push([k.keyId, await k.encrypt(p.dataKey)]);
    const info: EncryptionInfo = kmsEncryptionInfo(entries);
    if (p.salt) info.salt = Buffer.from(p.salt);
    // 3. The next free ENCRYPTION-INFO-N; never an overwrite.
    const existing = (await listEncryptionInfoKeys(store, dir)).map((e) => e.key);
    const name = nextEncryptionInfoName(existing.length ? existing : ['ENCRYPTION-INFO']);
    const infoKey = joinKey(dir, name);
    if (await store.stat(infoKey)) throw new StorageError(`refusing to overwrite ${store.displayUri}/${infoKey}`);
    const bytes = encodeEncryptionInfo(info);
    await store.write(infoKey, bytes);
    written.push(infoKey);
    // 4. Open the data through the new path: decode the file as read back, unwrap with each new KMS.
    const back = await store.read(infoKey);
    if (!back.equals(bytes)) throw new StorageError(`${store.displayUri}/${infoKey} holds other bytes than were written (a concurrent writer?)`);
    const decoded = decodeEncryptionInfo(back);
    const verifiedObjects: string[] = [];
    for (const k of kms) {
      const wrapped = decoded.encryptedDataKeyByKMSMasterKeyID.get(kmsMapKey(k.keyId).toString('hex'));
      if (!wrapped) throw new IntegrityError(`${infoKey} was written but has no entry for ${k.keyId}`);
      const key = await k.decrypt(wrapped);
      if (!key.equals(p.dataKey)) throw new IntegrityError(`${infoKey}: the entry for ${k.keyId} does not unwrap to the backup's data key`);
      verifiedObjects.push(...(await requireOpens(store, p.backup, key, `kms:${k.keyId}`, 'new')));
    }
    backups.push({ dir, openedVia: p.via, verifiedVia: kms.map((k) => `kms:${k.keyId}`).join(', '), written: infoKey, verifiedObjects: [...new Set(verifiedObjects)] });
  }
  for (const p of plans) p.dataKey.fill(0);
  return {
    action: 'add-kms',
    written,
    retired: [],
    backups,
    keys: { to: kms.map((k) => ref(k, true)) },
    dataObjectsWritten: 0,
    durationMs: Date.now() - started,
  };
}

// ---------------------------------------------------------------------------------------------------

/** Opens each selected backup through the chain with `cmek`; only store keys in `onlyStoreKeys` when given. */
async function openViaChain(
  o: RewrapOptions,
  cmek: KmsProvider,
  phase: 'current' | 'new',
  onlyStoreKeys?: Set<string>,
): Promise<Map<string, { via: string; objects: string[] }>> {
  let opened = await openStoreKeys(o.store, cmek);
  if (onlyStoreKeys) opened = opened.filter((s) => onlyStoreKeys.has(s.storeKey.id.toString('hex')));
  if (opened.length === 0) throw new IntegrityError(`the new store key does not open through ${cmek.displayUri}`);
  const out = new Map<string, { via: string; objects: string[] }>();
  try {
    for (const backup of o.collection.selected) {
      const r = findDataKeyWithStoreKeys(opened, await readEncryptionInfos(o.store, backup.dir), backup.dir);
      const via = `cmek:${cmek.keyId} -> store key ${r.storeKeyId.slice(0, 16)}… (${r.infoKey})`;
      const objects = await requireOpens(o.store, backup, r.dataKey, via, phase);
      r.dataKey.fill(0);
      out.set(backup.dir, { via, objects });
    }
  } finally {
    for (const s of opened) s.storeKey.key.fill(0);
  }
  return out;
}

async function toCmek(o: RewrapOptions, newCmek: KmsProvider, started: number): Promise<RewrapResult> {
  const oldCmek = requireCmek(o, '--to-cmek');
  if (oldCmek.provider === newCmek.provider && oldCmek.keyId === newCmek.keyId) {
    throw new UsageError(`--to-cmek names the CMEK the collection already uses (${newCmek.provider} key ${newCmek.keyId})`);
  }
  const before = await openViaChain(o, oldCmek, 'current');
  const r = await rewrapStoreKey(o.store, oldCmek, newCmek, { verifyBackupDirs: o.collection.selected.map((b) => b.dir), now: o.now });
  const after = await openViaChain(o, newCmek, 'new');
  const retired: string[] = [];
  if (o.retireOld) {
    // Every store key the old CMEK opened now has a version under the new CMEK (rewrapStoreKey), and the
    // new path opened every selected backup: the old CMEK's versions can go.
    for (const s of await readStoreKeyObjects(o.store)) {
      if (s.object && wrappedBy(s.object, oldCmek)) {
        await o.store.delete(s.key);
        retired.push(s.key);
      }
    }
  }
  return {
    action: 'to-cmek',
    written: r.written.map((w) => w.objectKey),
    retired,
    backups: o.collection.selected.map((b) => ({
      dir: b.dir,
      openedVia: before.get(b.dir)?.via ?? '',
      verifiedVia: after.get(b.dir)?.via ?? '',
      verifiedObjects: after.get(b.dir)?.objects ?? [],
    })),
    keys: { from: ref(oldCmek), to: [ref(newCmek)], storeKeys: r.written.map((w) => w.storeKeyId) },
    dataObjectsWritten: 0,
    durationMs: Date.now() - started,
  };
}

async function newStoreKey(o: RewrapOptions, bits: StoreKeyBits | undefined, started: number): Promise<RewrapResult> {
  const cmek = requireCmek(o, '--new-store-key');
  const before = await openViaChain(o, cmek, 'current');
  // rotateStoreKey refuses (before writing) to retire a store key another full backup still needs, checks
  // that every new entry opens to the same data key that just opened the data, and retires only then.
  const r = await rotateStoreKey(
    o.store,
    cmek,
    o.collection.selected.map((b) => ({ dir: b.dir })),
    { bits, retireOld: o.retireOld, now: o.now },
  );
  const after = await openViaChain(o, cmek, 'new', new Set([r.storeKeyId]));
  return {
    action: 'new-store-key',
    written: [r.objectKey, ...r.written.map((w) => w.infoKey)],
    retired: r.retired,
    backups: o.collection.selected.map((b) => ({
      dir: b.dir,
      openedVia: before.get(b.dir)?.via ?? '',
      verifiedVia: after.get(b.dir)?.via ?? '',
      written: r.written.find((w) => w.dir === b.dir)?.infoKey,
      verifiedObjects: after.get(b.dir)?.objects ?? [],
    })),
    keys: { from: ref(cmek), to: [ref(cmek)], storeKeys: [r.storeKeyId] },
    dataObjectsWritten: 0,
    durationMs: Date.now() - started,
  };
}
