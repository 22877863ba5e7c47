/**
 * The inspect engine: what a collection holds, without a key (layout, LATEST, schemes and key IDs, times,
 * counts and sizes, cleartext objects) and, with a key, what its manifests say.
 */
import { classifyObject, cleartextReason } from '../backup/classify';
import type { Collection, FullBackup, Layer } from '../backup/layout';
import { hlcToDate, readManifest } from '../backup/manifest';
import { readStoreKeyObjects } from '../chain/store-key-object';
import { CHAIN_MAGIC } from '../chain/format';
import { decryptBuffer } from '../format/chunked';
import { readEncryptionInfos, type StoredEncryptionInfo } from '../keys/encryption-info';
import type { ObjectStore } from '../storage/object-store';
import type { Keyring } from './keyring';
import { readIncompleteMarker } from './markers';

export interface EncryptionInfoView {
  file: string;
  scheme: 'passphrase' | 'kms' | 'passphrase+kms' | 'none';
  /** Hex salt length only (the salt is not secret, but nobody needs it printed). */
  hasSalt: boolean;
  /** Entries by SHA-256 of the master key ID (hex); `kind` tells native KMS from chain entries. */
  entries: { keyIdSha256: string; kind: 'kms' | 'cmek-chain'; wrappedBytes: number }[];
}

export interface ManifestFacts {
  startTime?: string;
  endTime?: string;
  spans: number;
  files: number;
  rows: number;
  dataSize: number;
  indexEntries: number;
  descriptors: number;
  clusterId?: string;
  formatVersion: number;
  buildTag?: string;
  checksum: string;
  error?: string;
}

export interface LayerView {
  dir: string;
  kind: 'full' | 'incremental';
  endTime?: string;
  startTime?: string;
  manifest?: string;
  objects: number;
  bytes: number;
  dataFiles: number;
  cleartextObjects: number;
  facts?: ManifestFacts;
}

export interface BackupView {
  dir: string;
  endTime?: string;
  latest: boolean;
  selected: boolean;
  encryption: EncryptionInfoView[];
  scheme: string;
  layers: LayerView[];
  keyVia?: string;
}

export interface InspectResult {
  mode: Collection['mode'];
  latest?: string;
  latestSource?: string;
  incomplete?: string;
  chain: { object: string; cmekProvider?: string; cmekKeyId?: string; storeKeyId?: string; storeKeyBits?: number; created?: string; error?: string }[];
  backups: BackupView[];
  cleartext: { path: string; reason: string }[];
  stray: string[];
  warnings: string[];
  totals: { objects: number; bytes: number };
}

export interface InspectOptions {
  store: ObjectStore;
  collection: Collection;
  /** With a keyring, manifests of the selected backups are decrypted and summarized. */
  keyring?: Keyring;
}

function iso(d: Date | undefined): string | undefined {
  return d ? d.toISOString() : undefined;
}

export function viewEncryptionInfo(s: StoredEncryptionInfo): EncryptionInfoView {
  const hasSalt = Boolean(s.info.salt && s.info.salt.length);
  const entries = s.info.kmsEntries.map((e) => ({
    keyIdSha256: e.keyHash.toString('hex'),
    kind: (e.encryptedDataKey.subarray(0, CHAIN_MAGIC.length).equals(CHAIN_MAGIC) ? 'cmek-chain' : 'kms') as 'kms' | 'cmek-chain',
    wrappedBytes: e.encryptedDataKey.length,
  }));
  const scheme = hasSalt && entries.length ? 'passphrase+kms' : hasSalt ? 'passphrase' : entries.length ? 'kms' : 'none';
  return { file: s.key, scheme, hasSalt, entries };
}

function schemeOf(views: EncryptionInfoView[]): string {
  if (views.length === 0) return 'unencrypted (no ENCRYPTION-INFO)';
  const pass = views.some((v) => v.hasSalt);
  const kms = views.flatMap((v) => v.entries.filter((e) => e.kind === 'kms')).length;
  const chain = views.flatMap((v) => v.entries.filter((e) => e.kind === 'cmek-chain')).length;
  const parts = [];
  if (pass) parts.push('passphrase');
  if (kms) parts.push(`KMS (${kms} key${kms === 1 ? '' : 's'})`);
  if (chain) parts.push(`CMEK chain (${chain} store-key entr${chain === 1 ? 'y' : 'ies'})`);
  return parts.join(' + ') || 'unknown';
}

async function manifestFacts(store: ObjectStore, layer: Layer, key: Buffer): Promise<ManifestFacts> {
  const r = await readManifest(store, layer, (ct) => decryptBuffer(key, ct));
  const m = r.manifest;
  const sum = (f: (x: (typeof m.files)[number]) => number) => m.files.reduce((n, x) => n + f(x), 0);
  return {
    startTime: iso(hlcToDate(m.startTime)),
    endTime: iso(hlcToDate(m.endTime)),
    spans: m.spans.length,
    files: m.files.length,
    rows: m.entryCounts.rows || sum((x) => x.entryCounts.rows),
    dataSize: m.entryCounts.dataSize || sum((x) => x.entryCounts.dataSize),
    indexEntries: m.entryCounts.indexEntries || sum((x) => x.entryCounts.indexEntries),
    descriptors: m.descriptorCount,
    clusterId: m.clusterId || undefined,
    formatVersion: m.formatVersion,
    buildTag: m.buildInfo?.tag,
    checksum: r.checksum,
  };
}

export async function inspect(o: InspectOptions): Promise<InspectResult> {
  const { store, collection } = o;
  const cleartext = collection.objects
    .filter((x) => classifyObject(x.key) === 'cleartext')
    .map((x) => ({ path: x.key, reason: cleartextReason(x.key) ?? 'cleartext by design' }));
  const chain = (await readStoreKeyObjects(store)).map((s) =>
    s.object
      ? {
          object: s.key,
          cmekProvider: s.object.cmekProvider,
          cmekKeyId: s.object.cmekKeyId,
          storeKeyId: Buffer.from(s.object.storeKeyId).toString('hex'),
          storeKeyBits: s.object.storeKeySize * 8,
          created: s.object.createdAt.toISOString(),
        }
      : { object: s.key, error: s.error?.message ?? 'unreadable' },
  );
  const selected = new Set(collection.selected.map((b) => b.dir));
  const backups: BackupView[] = [];
  for (const b of collection.backups) backups.push(await viewBackup(o, b, selected.has(b.dir)));
  return {
    mode: collection.mode,
    latest: collection.latest,
    latestSource: collection.latestSource,
    incomplete: await readIncompleteMarker(store),
    chain,
    backups,
    cleartext,
    stray: collection.stray.map((s) => s.key),
    warnings: collection.warnings,
    totals: { objects: collection.objects.length, bytes: collection.objects.reduce((n, x) => n + x.size, 0) },
  };
}

async function viewBackup(o: InspectOptions, b: FullBackup, isSelected: boolean): Promise<BackupView> {
  const infos = await readEncryptionInfos(o.store, b.dir);
  const encryption = infos.map(viewEncryptionInfo);
  let key: Buffer | undefined;
  let keyVia: string | undefined;
  if (o.keyring && isSelected && infos.length) {
    const r = await o.keyring.dataKeyFor(b.dir, infos);
    key = r.key;
    keyVia = r.via;
  }
  const layers: LayerView[] = [];
  for (const l of b.layers) {
    const view: LayerView = {
      dir: l.dir,
      kind: l.kind,
      endTime: iso(l.endTime),
      startTime: iso(l.startTime),
      manifest: l.manifestKey,
      objects: l.objects.length,
      bytes: l.objects.reduce((n, x) => n + x.size, 0),
      dataFiles: l.objects.filter((x) => /(^|\/)data\/[^/]+\.sst$/.test(x.key)).length,
      cleartextObjects: l.objects.filter((x) => classifyObject(x.key) === 'cleartext').length,
    };
    if (key && l.manifestKey) {
      try {
        view.facts = await manifestFacts(o.store, l, key);
      } catch (e) {
        view.facts = {
          spans: 0,
          files: 0,
          rows: 0,
          dataSize: 0,
          indexEntries: 0,
          descriptors: 0,
          formatVersion: 0,
          checksum: 'unknown',
          error: (e as Error).message,
        };
      }
    }
    layers.push(view);
  }
  return {
    dir: b.dir,
    endTime: iso(b.endTime),
    latest: o.collection.latest === b.dir,
    selected: isSelected,
    encryption,
    scheme: schemeOf(encryption),
    layers,
    keyVia,
  };
}
