/**
 * The transcode engine: copies the selected backups of a collection (default LATEST's full backup and its
 * incrementals; --backup; --all) from SRC to DST, any object store to any object store, changing how the
 * objects are encrypted. One engine, three modes:
 *
 *   decrypt    ciphertext -> DecryptStream -> DST. Plaintext of a chunk is released only after its GCM
 *              tag verifies, and a DST write is atomic, so nothing unauthenticated is ever visible.
 *              Manifests stay gzip-compressed protobuf (they are just decrypted), ENCRYPTION-INFO* is
 *              dropped: the result is a cleartext backup CockroachDB restores without encryption options.
 *   encrypt    cleartext -> EncryptStream under a NEW data key per full backup (target: passphrase with a
 *              new salt, native KMS URIs wrapping a random key, and/or a CMEK chain entry). Incrementals
 *              share their full backup's key and get no ENCRYPTION-INFO, as CockroachDB writes them.
 *              An input object that is already encrypted is refused.
 *   reencrypt  ciphertext -> DecryptStream (old key) -> EncryptStream (new key) -> DST.
 *
 * encrypt and reencrypt verify every object AS IT IS WRITTEN by teeing the new ciphertext through a
 * DecryptStream under the new key and comparing the SHA-256 of what comes out with the SHA-256 of the
 * plaintext that went in (transcode-streams.ts VerifyingTee); the comparison ends the stream, so an
 * object that does not verify is never completed in DST.
 *
 * In every mode: -CHECKSUM files are recomputed over the NEW stored bytes (first 4 bytes of SHA-256), and
 * the SRC checksum is checked on the way in; BACKUP-LOCK and other cleartext-by-design objects are copied
 * verbatim; LATEST pointers are copied when the whole chain they name is copied; the layout is kept.
 * SRC is only ever read (it is wrapped in a read-only view).
 *
 * Ordering (object stores have no rename, so completeness is marked by objects):
 *   0. preflight, nothing written: open every source key, read and check every manifest (checksum,
 *      decryption, decoding, every listed file present). A wrong key fails here (exit 3), damage too (1).
 *      With --resume, DST's data keys are reopened (and checked against an object already written);
 *      new data keys are derived / wrapped by every KMS, and the CMEK is probed: a refusing KMS exits 3
 *      with DST untouched.
 *   1. the INCOMPLETE marker (markers.ts): verify and inspect report such a DST as incomplete;
 *   2. the store key (CMEK) and every full backup's ENCRYPTION-INFO, read back and reopened, so that a
 *      resumed run finds the same data keys;
 *   3. data and every other object, in parallel (bounded by `concurrency`), each with its -CHECKSUM;
 *   4. manifests (BACKUP_METADATA / BACKUP_MANIFEST / BACKUP) and their -CHECKSUM;
 *   5. LATEST pointers (and metadata/index when every backup is copied);
 *   6. the marker is deleted.
 * A failure after step 1 leaves the marker; the error names DST and says to delete it or rerun with
 * --resume. --resume reuses the DST's data keys (reopened from its ENCRYPTION-INFO with the target key)
 * and skips objects already present: writes are atomic, so a present object is complete; it must still
 * have the expected size, and an encrypted one must authenticate under the DST key at its header, first
 * chunk and final chunk (ChunkedReader: two chunk reads, which also proves the length is a valid end).
 * A decrypted (cleartext) object cannot be authenticated; its size is checked, and it was authenticated
 * chunk by chunk before it was written.
 *
 * Tests only: CRDB_CMEK_TEST_SLOW_MS=<ms> in the environment makes the engine pause that long after each
 * object it writes to DST (every completed write: the marker, the store key, ENCRYPTION-INFO, each object
 * and each -CHECKSUM), so tests can interrupt a run at known points: between any two writes there is a
 * pause, never a write that follows another at once. It has no other effect.
 */
import { randomBytes } from 'node:crypto';
import { Readable, Transform, pipeline } from 'node:stream';
import { getOrCreateStoreKey, storeKeyEncryptionInfo } from '../chain/chain';
import { classifyObject, objectRole } from '../backup/classify';
import { CHECKSUM_SUFFIX, layerKey, type Collection, type FullBackup, type Layer } from '../backup/layout';
import { normalizeBackupDir } from '../backup/latest';
import { readManifest, type ManifestResult } from '../backup/manifest';
import { iterateSstEntries } from '../backup/sst';
import { CliError, ExitCode, IntegrityError, KeyError, UsageError } from '../errors';
import {
  appearsEncrypted,
  ChunkedReader,
  CHUNK_SIZE,
  ciphertextSize,
  decryptBuffer,
  DecryptStream,
  EncryptStream,
  HEADER_SIZE,
  parseHeader,
  plaintextSize,
  TAG_SIZE,
  VERSION_V1,
} from '../format/chunked';
import { AuthenticationError, FormatError } from '../format/errors';
import {
  ENCRYPTION_INFO_NAME,
  encodeEncryptionInfo,
  kmsEncryptionInfo,
  passphraseEncryptionInfo,
  readEncryptionInfos,
  type EncryptionInfo,
} from '../keys/encryption-info';
import { deriveKeyFromPassphrase, generateSalt } from '../keys/passphrase';
import type { ObjectStore } from '../storage/object-store';
import { joinKey, storeView } from '../storage/object-store';
import type { Keyring } from './keyring';
import { clearIncompleteMarker, INCOMPLETE_MARKER, writeIncompleteMarker } from './markers';
import { mapPool } from './pool';
import { HashTap, RefuseEncrypted, VerifyingTee } from './transcode-streams';
import type { TargetKey } from './transcode-target';

export type TranscodeMode = 'decrypt' | 'encrypt' | 'reencrypt';

export interface TranscodeProgress {
  objectsDone: number;
  objectsTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface TranscodeOptions {
  mode: TranscodeMode;
  src: ObjectStore;
  dst: ObjectStore;
  /** The SRC collection with its selection (discoverCollection). */
  collection: Collection;
  /** decrypt / reencrypt: opens each SRC backup's data key. */
  sourceKeyring?: Keyring;
  /** encrypt / reencrypt: what protects the new data keys. */
  target?: TargetKey;
  concurrency: number;
  /** Finish an interrupted run into a non-empty DST. */
  resume?: boolean;
  /** Redacted SRC URI, recorded in the marker. */
  sourceDisplay?: string;
  tool?: string;
  onProgress?: (p: TranscodeProgress) => void;
  /** Pause after each object written (tests); default from CRDB_CMEK_TEST_SLOW_MS. */
  testDelayMs?: number;
}

export interface TranscodeBackupSummary {
  dir: string;
  layers: string[];
  /** How the SRC key was opened ("passphrase", "kms:<id>", ...) or "cleartext". */
  sourceKey: string;
  /** "created" | "reused" (resume) | "none" (decrypt). */
  targetKey: 'created' | 'reused' | 'none';
}

export interface TranscodeResult {
  mode: TranscodeMode;
  source: string;
  destination: string;
  /** Secret-free description of the SRC keys and of the DST key scheme. */
  sourceScheme: string;
  targetScheme: string;
  objects: { total: number; written: number; skipped: number; checksums: number; dropped: number };
  bytes: { read: number; written: number };
  backups: TranscodeBackupSummary[];
  /** LATEST pointers copied. */
  latest: string[];
  resumed: boolean;
  warnings: string[];
  durationMs: number;
}

type Phase = 'data' | 'manifest' | 'pointer';

interface BackupKeys {
  backup: FullBackup;
  /** SRC data key (decrypt / reencrypt). */
  srcKey?: Buffer;
  /** DST data key (encrypt / reencrypt), set in step 2. */
  dstKey?: Buffer;
}

interface PlanItem {
  key: string;
  size: number;
  /** transcode = through the mode's streams; copy = verbatim. */
  action: 'transcode' | 'copy';
  phase: Phase;
  keys?: BackupKeys;
  /** `${key}-CHECKSUM` exists in SRC: check it on the way in and write a recomputed one to DST. */
  checksumKey?: string;
}

function envDelay(): number {
  const v = Number(process.env.CRDB_CMEK_TEST_SLOW_MS);
  return Number.isFinite(v) && v > 0 ? v : 0;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A view of a store that refuses writes: SRC is never modified. */
export function readOnlyStore(s: ObjectStore): ObjectStore {
  const refuse = async (): Promise<never> => {
    throw new Error(`internal: refusing to modify the source ${s.displayUri}`);
  };
  return storeView(s, { write: refuse, delete: refuse });
}

/**
 * Tests only (CRDB_CMEK_TEST_SLOW_MS): DST pausing `ms` after each completed write. Every write pauses,
 * including the marker, ENCRYPTION-INFO and -CHECKSUM files, so a test that kills the run once an object
 * appears finds the engine in that pause rather than inside the next write.
 */
function pausingStore(s: ObjectStore, ms: number): ObjectStore {
  return storeView(s, {
    write: async (k, d) => {
      await s.write(k, d);
      await sleep(ms);
    },
    delete: (k) => s.delete(k),
  });
}

function isCliOrFormat(e: unknown): boolean {
  return e instanceof CliError || e instanceof FormatError;
}

/** Turns a source-side format error into the CLI error for `key` (the key itself is known to be right). */
function damage(e: unknown, key: string): unknown {
  if (e instanceof AuthenticationError) {
    return new IntegrityError(
      `${key}: chunk ${e.chunk} at byte offset ${e.offset} does not authenticate: the object is damaged (the backup's manifest authenticates under the same key)`,
    );
  }
  if (e instanceof FormatError) return new IntegrityError(`${key}: ${e.message}`);
  return e;
}

export async function transcode(o: TranscodeOptions): Promise<TranscodeResult> {
  const started = Date.now();
  const { mode, collection } = o;
  const src = readOnlyStore(o.src);
  const delay = o.testDelayMs ?? envDelay();
  const dst = delay > 0 ? pausingStore(o.dst, delay) : o.dst;
  const warnings: string[] = [...collection.warnings];
  const needSrcKey = mode !== 'encrypt';
  const needDstKey = mode !== 'decrypt';
  if (needSrcKey && !o.sourceKeyring) throw new UsageError(`backup ${mode} needs the source key`);
  if (needDstKey && !o.target) throw new UsageError(`backup ${mode} needs a target key`);
  if (sameOrNested(src.displayUri, dst.displayUri)) {
    throw new UsageError(`the destination ${dst.displayUri} is the source or inside it (or contains it): choose a separate location`);
  }

  // ---- 0. preflight (nothing is written) ---------------------------------------------------------
  const srcMarker = await src.stat(INCOMPLETE_MARKER);
  if (srcMarker) {
    throw new IntegrityError(
      `the source ${src.displayUri} is itself incomplete (${INCOMPLETE_MARKER} is present): an interrupted crdb-cmek write; it must not be copied`,
    );
  }
  const dstIndex = new Map<string, number>();
  for await (const x of dst.list('')) dstIndex.set(x.key, x.size);
  if (dstIndex.size > 0 && !o.resume) {
    throw new UsageError(
      `the destination ${dst.displayUri} is not empty (${dstIndex.size} object${dstIndex.size === 1 ? '' : 's'})`,
      dstIndex.has(INCOMPLETE_MARKER)
        ? 'it holds an interrupted run: rerun the same command with --resume, or delete it'
        : 'choose an empty destination, or pass --resume to finish an interrupted run into it',
    );
  }

  const backupKeys: BackupKeys[] = [];
  const summaries: TranscodeBackupSummary[] = [];
  for (const backup of collection.selected) {
    const bk: BackupKeys = { backup };
    let via = 'cleartext';
    const infos = await readEncryptionInfos(src, backup.dir);
    if (needSrcKey) {
      const firstManifest = backup.layers[0].manifestKey;
      if (infos.length === 0 && firstManifest && !appearsEncrypted(await src.readRange(firstManifest, 0, HEADER_SIZE))) {
        throw new UsageError(
          `the backup ${backup.dir || '.'} in ${src.displayUri} is not encrypted (no ENCRYPTION-INFO, cleartext manifest): there is nothing to ${mode === 'decrypt' ? 'decrypt' : 're-encrypt'}`,
          mode === 'reencrypt' ? 'use `backup encrypt` for a cleartext backup' : undefined,
        );
      }
      const resolved = await (o.sourceKeyring as Keyring).dataKeyFor(backup.dir, infos);
      bk.srcKey = resolved.key;
      via = resolved.via;
    } else if (infos.length > 0) {
      throw new UsageError(
        `the backup ${backup.dir || '.'} in ${src.displayUri} is already encrypted (it has ${infos.map((i) => i.key).join(', ')})`,
        'use `backup reencrypt` to change its key, or `backup decrypt` first',
      );
    }
    for (const [i, layer] of backup.layers.entries()) {
      await preflightLayer(src, layer, bk, i === 0, via);
    }
    backupKeys.push(bk);
    summaries.push({ dir: backup.dir, layers: backup.layers.map((l) => l.dir), sourceKey: via, targetKey: needDstKey ? 'created' : 'none' });
  }

  // ---- plan ---------------------------------------------------------------------------------------
  const plan: PlanItem[] = [];
  let dropped = 0;
  for (const bk of backupKeys) {
    for (const layer of bk.backup.layers) {
      const keys = new Set(layer.objects.map((x) => x.key));
      const manifests = new Set(layer.manifestKeys);
      for (const obj of layer.objects) {
        const role = objectRole(obj.key);
        if (role === 'encryption-info') {
          dropped++;
          continue;
        }
        if (role === 'checksum' && keys.has(obj.key.slice(0, -CHECKSUM_SUFFIX.length))) continue; // recomputed with its object
        const checksumKey = keys.has(obj.key + CHECKSUM_SUFFIX) ? obj.key + CHECKSUM_SUFFIX : undefined;
        const cleartext = classifyObject(obj.key) === 'cleartext';
        plan.push({
          key: obj.key,
          size: obj.size,
          action: cleartext ? 'copy' : 'transcode',
          phase: manifests.has(obj.key) ? 'manifest' : 'data',
          keys: bk,
          checksumKey,
        });
      }
    }
  }
  const selectedDirs = new Set(collection.selected.map((b) => b.dir));
  const latest: string[] = [];
  const allSelected = collection.selected.length === collection.backups.length;
  for (const obj of collection.collectionObjects) {
    const role = objectRole(obj.key);
    if (role === 'latest') {
      const names = normalizeBackupDir((await src.read(obj.key)).toString('utf8'));
      if (selectedDirs.has(names)) {
        plan.push({ key: obj.key, size: obj.size, action: 'copy', phase: 'pointer' });
        latest.push(obj.key);
      }
    } else if (role === 'index' && allSelected) {
      plan.push({ key: obj.key, size: obj.size, action: 'copy', phase: 'pointer' });
    }
  }
  if (latest.length === 0 && collection.mode === 'collection') {
    warnings.push('no LATEST pointer copied: LATEST names a backup that was not selected (restore from DST names the backup subdirectory explicitly)');
  }
  const strays = collection.stray.filter((s) => s.key !== INCOMPLETE_MARKER);
  if (strays.length > 0) {
    warnings.push(`${strays.length} object(s) outside every selected backup were not copied (e.g. ${strays[0].key})`);
  }

  const progress: TranscodeProgress = {
    objectsDone: 0,
    objectsTotal: plan.length,
    bytesDone: 0,
    bytesTotal: plan.reduce((n, p) => n + p.size, 0),
  };
  const counts = { written: 0, skipped: 0, checksums: 0, bytesWritten: 0 };
  o.onProgress?.(progress);

  // --resume: reopen the data keys the interrupted run wrote, before writing anything (a wrong target
  // key then fails with DST exactly as it was).
  const target = o.target;
  const targetKeyring = needDstKey && target ? target.keyring(dst) : undefined;
  if (targetKeyring) {
    for (const [i, bk] of backupKeys.entries()) {
      const dir = bk.backup.dir;
      if (![...dstIndex.keys()].some((k) => isEncryptionInfoIn(k, dir))) continue;
      const infos = await readEncryptionInfos(dst, dir);
      const r = await targetKeyring.dataKeyFor(dir, infos).catch((e: unknown) => {
        if (e instanceof CliError && e.exitCode === ExitCode.key) {
          throw new KeyError(
            `${dst.displayUri}/${infos[0]?.key ?? 'ENCRYPTION-INFO'} does not open with the target key given now: the interrupted run used another target key (${e.message})`,
            `resume with the same target key as the first run, or delete ${dst.displayUri}`,
          );
        }
        throw e;
      });
      // A passphrase derives SOME key from any salt: prove it is the one the objects already written use.
      const sample = plan.find((x) => x.keys === bk && x.action === 'transcode' && dstIndex.has(x.key));
      if (sample) {
        try {
          const size = dstIndex.get(sample.key) as number;
          const reader = new ChunkedReader({ size, read: (a, b) => dst.readRange(sample.key, a, b) }, r.key);
          await reader.read(0, Math.min(CHUNK_SIZE, await reader.open()));
        } catch (e) {
          if (e instanceof AuthenticationError && e.chunk === 0) {
            throw new KeyError(
              `${dst.displayUri}/${sample.key} does not authenticate under the target key given now: the interrupted run used another target key`,
              `resume with the same target key as the first run, or delete ${dst.displayUri}`,
            );
          }
          if (!(e instanceof FormatError)) throw e;
          // Other damage is reported by the per-object check below, by name.
        }
      }
      bk.dstKey = r.key;
      summaries[i].targetKey = 'reused';
    }
  }

  // New data keys are made (PBKDF2, KMS wraps) before anything is written, so a refusing KMS exits 3
  // with DST untouched; the CMEK is probed for the same reason (its store key is written after the marker).
  const fresh: { bk: BackupKeys; key: Buffer; salt?: Buffer; entries: [string, Buffer][] }[] = [];
  if (target && targetKeyring) {
    for (const bk of backupKeys) {
      if (bk.dstKey) continue;
      if (target.passphrase !== undefined) {
        const salt = generateSalt();
        fresh.push({ bk, key: await deriveKeyFromPassphrase(target.passphrase, salt), salt, entries: [] });
      } else {
        const key = randomBytes(32);
        const entries: [string, Buffer][] = [];
        for (const k of target.kms) entries.push([k.keyId, await k.encrypt(key)]);
        fresh.push({ bk, key, entries });
      }
    }
    if (target.cmek && fresh.length > 0 && ![...dstIndex.keys()].some((k) => k.startsWith('crdb-cmek/'))) {
      await target.cmek.encrypt(randomBytes(32));
    }
  }

  // From here on DST is being written: failures name it.
  try {
    // A resumed run first removes what the interrupted one left half-written (never visible as objects).
    if (o.resume && dstIndex.size > 0) await o.dst.sweepInterrupted?.();
    // ---- 1. marker (kept as it is when an interrupted run already wrote it) -----------------------
    if (!dstIndex.has(INCOMPLETE_MARKER)) {
      await writeIncompleteMarker(dst, {
        operation: `backup ${mode}`,
        started: new Date().toISOString(),
        source: o.sourceDisplay ?? src.displayUri,
        tool: o.tool ?? 'crdb-cmek',
      });
    }

    // ---- 2. the store key (CMEK) and each new data key's ENCRYPTION-INFO, read back and reopened ------
    if (target && targetKeyring) {
      let storeKey: Awaited<ReturnType<typeof getOrCreateStoreKey>> | undefined;
      for (const f of fresh) {
        const dir = f.bk.backup.dir;
        let info: EncryptionInfo;
        if (f.salt) {
          info = passphraseEncryptionInfo(f.salt);
        } else if (target.cmek) {
          storeKey ??= await getOrCreateStoreKey(dst, target.cmek, { bits: target.storeKeyBits });
          info = storeKeyEncryptionInfo(storeKey.storeKey, f.key, dir, f.entries);
        } else {
          info = kmsEncryptionInfo(f.entries);
        }
        const infoKey = joinKey(dir, ENCRYPTION_INFO_NAME);
        await dst.write(infoKey, encodeEncryptionInfo(info));
        // Reopen with the target key alone: what a later reader (or --resume) will do.
        const back = await targetKeyring.dataKeyFor(dir, await readEncryptionInfos(dst, dir));
        if (!back.key.equals(f.key)) throw new IntegrityError(`${infoKey} was written but does not reopen to the new data key`);
        f.bk.dstKey = f.key;
      }
    }

    // ---- 3..5. objects ------------------------------------------------------------------------------
    const run = async (item: PlanItem): Promise<void> => {
      const present = dstIndex.get(item.key);
      let outDigest: Buffer | undefined;
      if (present !== undefined) {
        await checkPresent(src, dst, item, present, mode);
        counts.skipped++;
        progress.bytesDone += item.size;
        if (item.checksumKey) outDigest = await hashObject(dst, item.key);
      } else {
        const r = await writeItem(src, dst, item, mode, (n) => {
          progress.bytesDone += n;
          o.onProgress?.(progress);
        });
        outDigest = r.digest;
        counts.written++;
        counts.bytesWritten += r.bytes;
      }
      if (item.checksumKey) {
        const want = (outDigest as Buffer).subarray(0, 4);
        const have = dstIndex.has(item.checksumKey) ? await dst.read(item.checksumKey) : undefined;
        if (!have || !have.equals(want)) {
          await dst.write(item.checksumKey, Buffer.from(want));
          counts.bytesWritten += 4;
        }
        counts.checksums++;
      }
      progress.objectsDone++;
      o.onProgress?.(progress);
    };
    await mapPool(plan.filter((p) => p.phase === 'data'), o.concurrency, run);
    await mapPool(plan.filter((p) => p.phase === 'manifest'), o.concurrency, run);
    for (const p of plan.filter((x) => x.phase === 'pointer')) await run(p);

    // ---- 6. done ------------------------------------------------------------------------------------
    await clearIncompleteMarker(dst);
  } catch (e) {
    throw incompleteError(e, dst);
  } finally {
    for (const bk of backupKeys) {
      // Only wipe keys we derived or generated; keyring-held keys may be cached and shared.
      if (bk.dstKey && needDstKey) bk.dstKey.fill(0);
    }
  }

  return {
    mode,
    source: o.sourceDisplay ?? src.displayUri,
    destination: dst.displayUri,
    sourceScheme: needSrcKey ? [...new Set(summaries.map((s) => s.sourceKey))].join(', ') : 'cleartext',
    targetScheme: needDstKey && target ? target.describe() : 'cleartext',
    objects: { total: plan.length, written: counts.written, skipped: counts.skipped, checksums: counts.checksums, dropped },
    bytes: { read: progress.bytesDone, written: counts.bytesWritten },
    backups: summaries,
    latest,
    resumed: Boolean(o.resume && dstIndex.size > 0),
    warnings,
    durationMs: Date.now() - started,
  };
}

function sameOrNested(a: string, b: string): boolean {
  const x = a.replace(/\/+$/, '');
  const y = b.replace(/\/+$/, '');
  return x === y || x.startsWith(y + '/') || y.startsWith(x + '/');
}

function isEncryptionInfoIn(key: string, dir: string): boolean {
  const prefix = dir ? `${dir}/` : '';
  if (!key.startsWith(prefix)) return false;
  return /^ENCRYPTION-INFO(-[1-9][0-9]*)?$/.test(key.slice(prefix.length));
}

/** The error to report once DST has been written to: same exit code, DST named, what to do. */
function incompleteError(e: unknown, dst: ObjectStore): CliError {
  const base = e instanceof FormatError ? new IntegrityError(e.message) : e;
  const code = base instanceof CliError ? base.exitCode : ExitCode.problems;
  const msg = base instanceof CliError ? base.message : `internal error: ${base instanceof Error ? base.message : String(base)}`;
  return new CliError(
    `${msg}\nThe destination ${dst.displayUri} is incomplete (it keeps its ${INCOMPLETE_MARKER} marker, so verify reports it as such and it must not be restored).`,
    code,
    `fix the cause and rerun the same command with --resume, or delete ${dst.displayUri}`,
  );
}

/**
 * Checks one layer before anything is written: its manifest exists, matches its -CHECKSUM, decrypts under
 * the backup's key (decrypt / reencrypt) or is cleartext (encrypt), decodes, and every file it lists is
 * present. A chunk-0 authentication failure of the full backup's manifest means the key is wrong.
 */
async function preflightLayer(src: ObjectStore, layer: Layer, bk: BackupKeys, isFull: boolean, via: string): Promise<void> {
  const where = layer.dir || '.';
  if (!layer.manifestKey) {
    throw new IntegrityError(
      `the ${layer.kind} backup ${where} has no manifest (BACKUP_METADATA, BACKUP_MANIFEST or BACKUP): it cannot be restored, so it is not copied`,
      'run `backup verify` on the source for details',
    );
  }
  const mkey = layer.manifestKey;
  const key = bk.srcKey;
  let res: ManifestResult;
  try {
    if (key) {
      res = await readManifest(src, layer, (ct: Buffer) => decryptBuffer(key, ct), {
        readFileListSst: (k) => encryptedSstEntries(src, k, key),
      });
    } else {
      const head = await src.readRange(mkey, 0, HEADER_SIZE);
      if (appearsEncrypted(head)) {
        throw new UsageError(
          `${mkey} is encrypted: backup encrypt takes a cleartext backup`,
          'use `backup reencrypt` to change the key of an encrypted backup',
        );
      }
      res = await readManifest(src, layer, null, { readFileListSst: (k) => plainSstEntries(src, k) });
    }
  } catch (e) {
    if (e instanceof AuthenticationError && e.chunk === 0 && isFull) {
      throw new KeyError(
        `wrong passphrase or key: the manifest ${mkey} does not authenticate under the key (${via})`,
        'check the passphrase or key the backup was written with (nothing was written to the destination)',
      );
    }
    throw damage(e, mkey);
  }
  if (res.checksum === 'mismatch') {
    throw new IntegrityError(
      `${mkey}: does not match its -CHECKSUM (expected ${res.checksumExpected}, stored bytes give ${res.checksumActual}): the manifest is damaged`,
      'run `backup verify` on the source for the full list of problems',
    );
  }
  const present = new Set(layer.objects.map((x) => x.key));
  const missing = [...new Set(res.manifest.files.map((f) => layerKey(layer, f.path)))].filter((k) => !present.has(k));
  if (missing.length > 0) {
    throw new IntegrityError(
      `${missing[0]}: listed by ${mkey} but missing from the source${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}: the backup cannot be restored`,
      'run `backup verify` on the source for the full list of problems',
    );
  }
}

async function* encryptedSstEntries(store: ObjectStore, objectKey: string, key: Buffer): AsyncIterable<{ key: Buffer; value: Buffer }> {
  const info = await store.stat(objectKey);
  if (!info) throw new IntegrityError(`${objectKey} is missing`);
  const reader = new ChunkedReader({ size: info.size, read: (a, b) => store.readRange(objectKey, a, b) }, key);
  const size = await reader.open();
  yield* iterateSstEntries({ size, read: (a, b) => reader.read(a, b) });
}

async function* plainSstEntries(store: ObjectStore, objectKey: string): AsyncIterable<{ key: Buffer; value: Buffer }> {
  const info = await store.stat(objectKey);
  if (!info) throw new IntegrityError(`${objectKey} is missing`);
  yield* iterateSstEntries({ size: info.size, read: (a, b) => store.readRange(objectKey, a, b) });
}

/** SHA-256 of a stored object, streamed. */
async function hashObject(store: ObjectStore, key: string): Promise<Buffer> {
  const tap = new HashTap({ hash: true });
  const input = await store.createReadStream(key);
  await new Promise<void>((resolve, reject) => {
    pipeline(input, tap, (e) => (e ? reject(e) : resolve()));
    tap.resume();
  });
  return tap.digest;
}

/** Plaintext size of an encrypted SRC object (version 2 from its size, version 1 from its header). */
async function srcPlaintextSize(src: ObjectStore, item: PlanItem): Promise<number> {
  const { version } = parseHeader(await src.readRange(item.key, 0, Math.min(HEADER_SIZE, item.size)));
  return version === VERSION_V1 ? item.size - HEADER_SIZE - TAG_SIZE : plaintextSize(item.size);
}

/** --resume: an object already in DST must be the one this run would write. */
async function checkPresent(src: ObjectStore, dst: ObjectStore, item: PlanItem, size: number, mode: TranscodeMode): Promise<void> {
  let expected: number;
  let dstKey: Buffer | undefined;
  try {
    if (item.action === 'copy') expected = item.size;
    else if (mode === 'decrypt') expected = await srcPlaintextSize(src, item);
    else if (mode === 'encrypt') expected = ciphertextSize(item.size);
    else expected = ciphertextSize(await srcPlaintextSize(src, item));
  } catch (e) {
    throw damage(e, item.key);
  }
  if (item.action === 'transcode' && mode !== 'decrypt') dstKey = item.keys?.dstKey;
  const foreign = (why: string) =>
    new IntegrityError(
      `${dst.displayUri}/${item.key} already exists but ${why}: it was not written by this operation with this key`,
      `delete ${dst.displayUri} and start again`,
    );
  if (size !== expected) throw foreign(`has ${size} bytes where ${expected} are expected`);
  if (!dstKey) return;
  try {
    const reader = new ChunkedReader({ size, read: (a, b) => dst.readRange(item.key, a, b) }, dstKey);
    const plain = await reader.open();
    await reader.read(0, Math.min(CHUNK_SIZE, plain));
    const last = Math.floor(plain / CHUNK_SIZE) * CHUNK_SIZE;
    if (last > 0) await reader.read(last, plain);
  } catch (e) {
    if (e instanceof FormatError) throw foreign(`does not authenticate under the destination key (${e.message})`);
    throw e;
  }
}

/** Streams one object from SRC to DST through the mode's stages; returns SHA-256 and size of the stored bytes. */
async function writeItem(
  src: ObjectStore,
  dst: ObjectStore,
  item: PlanItem,
  mode: TranscodeMode,
  onBytes: (n: number) => void,
): Promise<{ digest: Buffer; bytes: number }> {
  const srcChecksum = item.checksumKey ? await src.read(item.checksumKey) : undefined;
  const input: Readable = await src.createReadStream(item.key);
  const stages: Transform[] = [
    new HashTap({
      onBytes,
      expectPrefix: srcChecksum,
      onMismatch: (got) =>
        new IntegrityError(`${item.key}: does not match ${item.checksumKey} (expected ${srcChecksum?.toString('hex')}, read ${got}): the source object is damaged`),
    }),
  ];
  if (item.action === 'transcode') {
    const srcKey = item.keys?.srcKey;
    const dstKey = item.keys?.dstKey;
    if (mode !== 'encrypt') stages.push(new DecryptStream(srcKey as Buffer));
    else stages.push(new RefuseEncrypted(item.key));
    if (mode !== 'decrypt') {
      const plainTap = new HashTap({ hash: true });
      stages.push(plainTap, new EncryptStream(dstKey as Buffer), new VerifyingTee(dstKey as Buffer, () => plainTap.digest, item.key));
    }
  }
  const out = new HashTap({ hash: true });
  stages.push(out);

  // The first meaningful error of any stage: the store's write error wraps whatever ended its input.
  let first: unknown;
  const record = (e: unknown) => {
    if (first === undefined || (!isCliOrFormat(first) && isCliOrFormat(e))) first = e;
  };
  input.on('error', record);
  for (const s of stages) s.on('error', record);
  const last = pipeline([input, ...stages], (e) => {
    if (e) record(e);
  }) as unknown as Readable;
  try {
    await dst.write(item.key, last);
  } catch (e) {
    if (first !== undefined && isCliOrFormat(first)) throw damage(first, item.key);
    throw isCliOrFormat(e) ? damage(e, item.key) : e;
  }
  if (first !== undefined) throw damage(first, item.key);
  return { digest: out.digest, bytes: out.bytes };
}
