/**
 * Builds small encrypted CockroachDB-layout collections for tests, with library calls only (no CLI):
 * one or more full backups, each with an incremental in `incrementals/`, gzip+encrypted BACKUP_MANIFEST
 * with -CHECKSUM, encrypted BACKUP-STATISTICS and data SSTs, cleartext BACKUP-LOCK and ENCRYPTION-INFO,
 * and a timestamped `metadata/latest/LATEST-<hex>` naming the newest full backup.
 *
 * Keys: a passphrase (PBKDF2 salt per full backup), native KMS entries (no AAD, as CockroachDB), or the
 * CMEK chain (store key wrapped by the CMEK, data-key entry per full backup; native entries optional).
 *
 * Also: `startKmsFixtures()` starts the AWS KMS, Google Cloud KMS and Vault Transit emulators (plus a
 * file CMEK) behind one shape, with URIs and environment usable both in-process and by the CLI child.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getOrCreateStoreKey, storeKeyEncryptionInfo } from '../../src/chain';
import { buildSst } from '../../src/backup/sst-writer';
import { emptyManifest, encodeManifest, writeManifestBytes, type ManifestFile } from '../../src/backup/manifest';
import { latestContent, latestObjectName } from '../../src/backup/latest';
import { encryptBuffer } from '../../src/format/chunked';
import { encodeEncryptionInfo, kmsEncryptionInfo, passphraseEncryptionInfo, type EncryptionInfo } from '../../src/keys/encryption-info';
import { deriveKeyFromPassphrase, generateSalt } from '../../src/keys/passphrase';
import { encodeStoreKey, generateStoreKey, type StoreKeyBits } from '../../src/keys/store-key';
import { openKms, type KmsProvider } from '../../src/kms';
import { LocalStore } from '../../src/storage/local';
import { start as startAws, type AwsKmsEmulator } from '../emulators/aws-kms-server';
import { start as startGcp, type GcpKmsEmulator } from '../emulators/gcp-kms-server';
import { start as startVault, type VaultEmulator } from '../emulators/vault-server';

export type CollectionKeying =
  | { kind: 'passphrase'; passphrase: string }
  | { kind: 'kms'; kms: KmsProvider[] }
  | { kind: 'cmek'; cmek: KmsProvider; storeKeyBits?: StoreKeyBits; nativeKms?: KmsProvider[] };

export interface MakeCollectionOptions {
  /** Number of full backups (default 1), one day apart from 2025-11-20 10:15:00 UTC. */
  fulls?: number;
  /** Add an incremental to every full backup (default true). */
  incremental?: boolean;
}

export interface MadeCollection {
  root: string;
  store: LocalStore;
  /** Full backup directories, oldest first ("2025/11/20-101500.00"). */
  fulls: string[];
  /** Incremental layer directories. */
  incrementals: string[];
  /** Data key of every full backup. */
  dataKeys: Map<string, Buffer>;
  /** Every object written, relative to the root. */
  objects: string[];
  /** Must-be-ciphertext objects written. */
  ciphertext: string[];
  /** Plaintext of every encrypted object (for checks). */
  plaintexts: Map<string, Buffer>;
  latestKey: string;
}

export function fullDirOf(i: number): string {
  const d = new Date(Date.UTC(2025, 10, 20 + i, 10, 15, 0));
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}-101500.00`;
}

function incDirOf(full: string, i: number): string {
  const d = new Date(Date.UTC(2025, 10, 21 + i, 10, 15, 0));
  const p = (n: number) => String(n).padStart(2, '0');
  return `incrementals/${full}/${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}/101500.00`;
}

/** A small valid SST (RocksDB v2 block-based) with n rows whose keys start with `prefix`. */
export function sampleSst(prefix: string, n = 40): Buffer {
  const entries = [];
  for (let i = 0; i < n; i++) {
    entries.push({ key: Buffer.from(`${prefix}/${String(i).padStart(6, '0')}`), value: Buffer.from(`value ${prefix} ${i} ${'x'.repeat(i % 17)}`) });
  }
  return buildSst(entries);
}

function manifestFile(rel: string, size: number, table: number): ManifestFile {
  return {
    span: { key: Buffer.from(`/Table/${table}/1`), endKey: Buffer.from(`/Table/${table}/2`) },
    path: rel,
    entryCounts: { dataSize: size, rows: 40, indexEntries: 0 },
    localityKv: '',
    backingFileSize: size,
    approximatePhysicalSize: size,
    hasRangeKeys: false,
  };
}

/** Writes a collection into `root` (created if needed). */
export async function makeCollection(root: string, keying: CollectionKeying, opts: MakeCollectionOptions = {}): Promise<MadeCollection> {
  fs.mkdirSync(root, { recursive: true });
  const store = new LocalStore(root);
  const nFull = opts.fulls ?? 1;
  const withInc = opts.incremental ?? true;
  const out: MadeCollection = {
    root,
    store,
    fulls: [],
    incrementals: [],
    dataKeys: new Map(),
    objects: [],
    ciphertext: [],
    plaintexts: new Map(),
    latestKey: '',
  };
  const put = async (key: string, bytes: Buffer, cipher: boolean, plain?: Buffer) => {
    await store.write(key, bytes);
    out.objects.push(key);
    if (cipher) out.ciphertext.push(key);
    if (plain) out.plaintexts.set(key, plain);
  };

  for (let f = 0; f < nFull; f++) {
    const dir = fullDirOf(f);
    out.fulls.push(dir);
    let dataKey: Buffer;
    let info: EncryptionInfo;
    if (keying.kind === 'passphrase') {
      const salt = generateSalt();
      dataKey = await deriveKeyFromPassphrase(keying.passphrase, salt);
      info = passphraseEncryptionInfo(salt);
    } else if (keying.kind === 'kms') {
      dataKey = crypto.randomBytes(32);
      const entries: [string, Buffer][] = [];
      for (const k of keying.kms) entries.push([k.keyId, await k.encrypt(dataKey)]);
      info = kmsEncryptionInfo(entries);
    } else {
      dataKey = crypto.randomBytes(32);
      const { storeKey } = await getOrCreateStoreKey(store, keying.cmek, { bits: keying.storeKeyBits });
      const native: [string, Buffer][] = [];
      for (const k of keying.nativeKms ?? []) native.push([k.keyId, await k.encrypt(dataKey)]);
      info = storeKeyEncryptionInfo(storeKey, dataKey, dir, native);
    }
    out.dataKeys.set(dir, dataKey);
    await put(`${dir}/ENCRYPTION-INFO`, encodeEncryptionInfo(info), false);

    const layers = [{ dir, kind: 'full' as const, tables: [1001, 1002] }];
    if (withInc) {
      const inc = incDirOf(dir, f);
      out.incrementals.push(inc);
      layers.push({ dir: inc, kind: 'full' as const, tables: [2001] });
    }
    for (const layer of layers) {
      const m = emptyManifest();
      for (const t of layer.tables) {
        const rel = `data/${t}.sst`;
        const plain = sampleSst(`${layer.dir}/${t}`);
        await put(`${layer.dir}/${rel}`, encryptBuffer(dataKey, plain), true, plain);
        m.files.push(manifestFile(rel, plain.length, t));
      }
      const proto = encodeManifest(m);
      const { manifest, checksum } = await writeManifestBytes(proto, (b) => encryptBuffer(dataKey, b));
      await put(`${layer.dir}/BACKUP_MANIFEST`, manifest, true, proto);
      await put(`${layer.dir}/BACKUP_MANIFEST-CHECKSUM`, checksum, false);
      const stats = Buffer.concat([Buffer.from([0x0a, 0x10]), crypto.randomBytes(16)]);
      await put(`${layer.dir}/BACKUP-STATISTICS`, encryptBuffer(dataKey, stats), true, stats);
      await put(`${layer.dir}/BACKUP-LOCK-1100`, Buffer.from('lock'), false);
    }
  }
  const newest = out.fulls[out.fulls.length - 1];
  out.latestKey = latestObjectName(new Date(Date.UTC(2025, 10, 20 + nFull, 10, 16, 0)));
  await put(out.latestKey, Buffer.from(latestContent(newest)), false);
  return out;
}

export { copyTree, hashTree } from './tree';

// ---------------------------------------------------------------------------------------------------
// Key services for tests: one shape over the emulators and the file CMEK.

export type ProviderName = 'file' | 'aws-kms' | 'gcp-kms' | 'vault-transit';
export const PROVIDERS: ProviderName[] = ['file', 'aws-kms', 'gcp-kms', 'vault-transit'];

export interface KmsFixture {
  name: ProviderName;
  /** Creates a key and returns its URI (no secret worth hiding: emulator credentials only). */
  createKey(label: string): string;
  /** Revocation: disable / deny / delete; enable restores. `how` defaults to disable. */
  revoke(uri: string, how?: 'disable' | 'deny' | 'delete'): void;
  restore(uri: string): void;
  open(uri: string): KmsProvider;
}

export interface KmsFixtures {
  /** Environment the CLI child needs (GCP endpoint, Vault address and token). */
  env: NodeJS.ProcessEnv;
  get(name: ProviderName): KmsFixture;
  stop(): Promise<void>;
  aws: AwsKmsEmulator;
  gcp: GcpKmsEmulator;
  vault: VaultEmulator;
}

export async function startKmsFixtures(tmp: string): Promise<KmsFixtures> {
  const aws = await startAws();
  const gcp = await startGcp();
  const vault = await startVault();
  const env: NodeJS.ProcessEnv = { CRDB_CMEK_GCP_KMS_ENDPOINT: gcp.endpoint, VAULT_ADDR: vault.endpoint, VAULT_TOKEN: vault.token };
  const keyOf = (uri: string) => decodeURIComponent(uri.replace(/^[a-z-]+:\/\/\//, '').replace(/\?.*$/, ''));
  const hidden = new Map<string, string>(); // file CMEK: uri -> moved-away path
  const fixtures: Record<ProviderName, KmsFixture> = {
    file: {
      name: 'file',
      createKey(label) {
        const file = path.join(tmp, `cmek-${label}-${crypto.randomBytes(3).toString('hex')}.key`);
        fs.writeFileSync(file, encodeStoreKey(generateStoreKey(256)), { mode: 0o600 });
        return `file://${file}`;
      },
      revoke(uri) {
        const file = uri.slice('file://'.length);
        fs.renameSync(file, `${file}.revoked`);
        hidden.set(uri, `${file}.revoked`);
      },
      restore(uri) {
        const file = uri.slice('file://'.length);
        fs.renameSync(hidden.get(uri) as string, file);
        hidden.delete(uri);
      },
      open: (uri) => openKms(uri, { env }),
    },
    'aws-kms': {
      name: 'aws-kms',
      createKey(label) {
        const id = `arn:aws:kms:us-east-1:111122223333:key/${label}-${crypto.randomBytes(3).toString('hex')}`;
        aws.createKey(id);
        return `aws-kms:///${id}?REGION=us-east-1&AUTH=specified&AWS_ACCESS_KEY_ID=AKIDTEST&AWS_SECRET_ACCESS_KEY=test-secret&AWS_ENDPOINT=${encodeURIComponent(aws.endpoint)}`;
      },
      revoke(uri, how = 'disable') {
        const id = keyOf(uri);
        if (how === 'disable') aws.disableKey(id);
        else if (how === 'deny') aws.denyAccess(id);
        else aws.deleteKey(id);
      },
      restore(uri) {
        const id = keyOf(uri);
        aws.enableKey(id);
        aws.allowAccess(id);
      },
      open: (uri) => openKms(uri, { env, maxAttempts: 1 }),
    },
    'gcp-kms': {
      name: 'gcp-kms',
      createKey(label) {
        const name = `projects/p1/locations/global/keyRings/backups/cryptoKeys/${label}-${crypto.randomBytes(3).toString('hex')}`;
        gcp.createKey(name);
        return `gcp-kms:///${name}?AUTH=specified&BEARER_TOKEN=ya29.test-token`;
      },
      revoke(uri, how = 'disable') {
        const name = keyOf(uri);
        if (how === 'disable') gcp.disableKey(name);
        else if (how === 'deny') gcp.denyAccess(name);
        else gcp.deleteKey(name);
      },
      restore(uri) {
        const name = keyOf(uri);
        gcp.enableKey(name);
        gcp.allowAccess(name);
      },
      open: (uri) => openKms(uri, { env, maxAttempts: 1 }),
    },
    'vault-transit': {
      name: 'vault-transit',
      createKey(label) {
        const id = `transit/${label}-${crypto.randomBytes(3).toString('hex')}`;
        vault.createKey(id);
        return `vault-transit:///${id}`;
      },
      revoke(uri, how = 'disable') {
        const id = keyOf(uri);
        if (how === 'delete') vault.deleteKey(id);
        else vault.disableKey(id);
      },
      restore(uri) {
        vault.enableKey(keyOf(uri));
      },
      open: (uri) => openKms(uri, { env, maxAttempts: 1 }),
    },
  };
  return {
    env,
    aws,
    gcp,
    vault,
    get: (name) => fixtures[name],
    stop: async () => {
      await Promise.all([aws.stop(), gcp.stop(), vault.stop()]);
    },
  };
}
