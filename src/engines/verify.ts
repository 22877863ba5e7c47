/**
 * The verify engine: authenticates every chunk of every must-be-ciphertext object of the selected
 * backups, checks manifests and their checksums, compares the objects present with every manifest's
 * file list, and checks every SST's structure. Nothing is written anywhere.
 */
import { createHash } from 'node:crypto';
import { classifyObject, isSstKey, objectRole } from '../backup/classify';
import { layerKey, type Collection, type FullBackup, type Layer } from '../backup/layout';
import { ManifestError, readManifest } from '../backup/manifest';
import { CliError } from '../errors';
import { iterateSstEntries } from '../backup/sst';
import { appearsEncrypted, decryptBuffer, ChunkedReader } from '../format/chunked';
import { AuthenticationError, FormatError } from '../format/errors';
import { readEncryptionInfos } from '../keys/encryption-info';
import type { ObjectInfo, ObjectStore } from '../storage/object-store';
import type { Keyring } from './keyring';
import { INCOMPLETE_MARKER, readIncompleteMarker } from './markers';
import { checkObject } from './object-check';
import { autoWorkers, CheckPool, type WorkerStoreSpec } from './check-workers';
import { mapPool } from './pool';
import { problem, sortProblems, type Problem } from './problems';

export interface Subset {
  n: number;
  t: number;
}

export interface VerifyOptions {
  store: ObjectStore;
  collection: Collection;
  keyring: Keyring;
  concurrency: number;
  /** Check only this percentage (0 < p <= 100) of the data SSTs, chosen at random. */
  samplePercent?: number;
  /** Check only the data SSTs of deterministic subset n of t (restic's --read-data-subset n/t). */
  subset?: Subset;
  /** Run the SST structural checks (default true). */
  checkSsts?: boolean;
  onProgress?: (p: VerifyProgress) => void;
  /**
   * Check objects on this many worker threads (0: on this thread; undefined: automatic, see
   * autoWorkers). Needs `workerStore` to let each worker open the same store.
   */
  workers?: number;
  workerStore?: WorkerStoreSpec;
  /** Random source for --sample (tests). */
  random?: () => number;
}

export interface VerifyProgress {
  objectsDone: number;
  objectsTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export type VerifyStatus = 'ok' | 'failed' | 'key-error';

export interface BackupSummary {
  dir: string;
  layers: string[];
  keyVia: string;
  objects: number;
  bytes: number;
}

export interface VerifyResult {
  status: VerifyStatus;
  /** Present with status key-error. */
  keyError?: string;
  problems: Problem[];
  summary: {
    backups: number;
    layers: number;
    objectsChecked: number;
    bytesChecked: number;
    manifestsChecked: number;
    sstsChecked: number;
    sstsPartiallyVerified: number;
    cleartextObjects: number;
    objectsSkipped: number;
    errors: number;
    warnings: number;
    durationMs: number;
    /** "full", or a description of the spot check (--sample / --subset). */
    coverage: string;
    /** Worker threads that checked objects (0: the main thread did). */
    workers: number;
  };
  backups: BackupSummary[];
  /** SSTs whose structure could be verified only in part (e.g. columnar tables), with the reason. */
  partial: { path: string; reason: string }[];
}

/** Deterministic subset membership of a path (restic-style n/t): first byte of SHA-256 mod t. */
export function inSubset(path: string, s: Subset): boolean {
  const h = createHash('sha256').update(path).digest();
  return h.readUInt32BE(0) % s.t === s.n - 1;
}

export function parseSubset(text: string): Subset | undefined {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const t = Number(m[2]);
  if (t < 1 || n < 1 || n > t) return undefined;
  return { n, t };
}

interface Task {
  object: ObjectInfo;
  backup: FullBackup;
  key: Buffer | undefined;
  /** Not listed by any manifest: authenticated (it must still be ciphertext) but not restored, so not parsed. */
  unreferenced: boolean;
}

export async function verify(o: VerifyOptions): Promise<VerifyResult> {
  const started = Date.now();
  const { store, collection } = o;
  const problems: Problem[] = [];
  const partial: { path: string; reason: string }[] = [];
  const checkSsts = o.checkSsts ?? true;
  const random = o.random ?? Math.random;
  let manifestsChecked = 0;
  let cleartextObjects = 0;
  let objectsSkipped = 0;
  let keyError: string | undefined;
  const backups: BackupSummary[] = [];
  const tasks: Task[] = [];
  // Per backup: objects that authenticated / failed at chunk 0, to tell a wrong key from damage.
  const authOk = new Map<string, number>();
  const authFailedAtStart = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

  const marker = await readIncompleteMarker(store);
  if (marker) problems.push(problem(INCOMPLETE_MARKER, 'incomplete', marker));

  for (const s of collection.stray) {
    problems.push(problem(s.key, 'unreferenced', 'this object belongs to no backup or incremental layer of the collection', 'warning'));
  }

  for (const backup of collection.selected) {
    const infos = await readEncryptionInfos(store, backup.dir);
    let resolved: { key: Buffer | undefined; via: string };
    try {
      resolved =
        infos.length === 0 && (await isCleartextBackup(store, backup))
          ? { key: undefined, via: 'none (unencrypted backup)' }
          : await o.keyring.dataKeyFor(backup.dir, infos);
    } catch (e) {
      // An interrupted write (marker present) may be cleartext or have no key yet: it is reported as
      // incomplete (exit 1), never taken for a good backup nor turned into a key or usage error.
      if (!marker) throw e;
      problems.push(problem(backup.dir || '.', 'incomplete', `not checked: ${(e as Error).message}`));
      continue;
    }
    const key = resolved.key;
    let objects = 0;
    let bytes = 0;
    for (const layer of backup.layers) {
      const referenced = await checkLayerManifest(store, layer, key, problems, () => bump(authOk, backup.dir), () => bump(authFailedAtStart, backup.dir));
      if (referenced.checked) manifestsChecked += referenced.manifestKeys.size;
      const present = new Set(layer.objects.map((x) => x.key));
      if (referenced.files) {
        for (const f of referenced.files) {
          if (!present.has(f)) problems.push(problem(f, 'missing', 'the manifest lists this file, but the object is not in the backup'));
        }
      }
      const refSet = new Set(referenced.files ?? []);
      for (const obj of layer.objects) {
        if (classifyObject(obj.key) === 'cleartext' || (key === undefined && !isSstKey(obj.key))) {
          cleartextObjects++;
          continue;
        }
        if (referenced.manifestKeys.has(obj.key)) continue; // already authenticated as the manifest
        const role = objectRole(obj.key);
        const unreferenced = Boolean(referenced.files && role === 'sst' && !refSet.has(obj.key));
        if (unreferenced) {
          problems.push(problem(obj.key, 'unreferenced', 'this SST is not listed by the layer\'s manifest: a restore ignores it', 'warning'));
        }
        if (role === 'sst' && (o.subset || o.samplePercent !== undefined)) {
          const keep = o.subset ? inSubset(obj.key, o.subset) : random() * 100 < (o.samplePercent as number);
          if (!keep) {
            objectsSkipped++;
            continue;
          }
        }
        tasks.push({ object: obj, backup, key, unreferenced });
        objects++;
        bytes += obj.size;
      }
    }
    backups.push({ dir: backup.dir, layers: backup.layers.map((l) => l.dir), keyVia: resolved.via, objects, bytes });
  }

  const progress: VerifyProgress = {
    objectsDone: 0,
    objectsTotal: tasks.length,
    bytesDone: 0,
    bytesTotal: tasks.reduce((n, t) => n + t.object.size, 0),
  };
  o.onProgress?.(progress);
  let sstsChecked = 0;
  const workerCount = o.workerStore ? (o.workers ?? autoWorkers(progress.bytesTotal)) : 0;
  const pool = workerCount > 0 && tasks.length > 1 ? new CheckPool(workerCount, o.workerStore as WorkerStoreSpec) : undefined;
  // With workers, keep each one busy with a couple of objects; without, `concurrency` overlaps I/O.
  const inFlight = pool ? Math.max(o.concurrency, 2 * workerCount) : o.concurrency;
  const results = await mapPool(tasks, inFlight, async (t) => {
    const onBytes = (n: number) => {
      progress.bytesDone += n;
      o.onProgress?.(progress);
    };
    const task = { object: t.object, path: t.object.key, key: t.key, checkSsts: checkSsts && !t.unreferenced };
    const r = pool ? await pool.run(task, onBytes) : await checkObject({ store, ...task, onBytes });
    progress.objectsDone++;
    o.onProgress?.(progress);
    if (r.authenticated) bump(authOk, t.backup.dir);
    if (r.failedAtStart) bump(authFailedAtStart, t.backup.dir);
    if (r.sst) {
      sstsChecked++;
      if (r.sst.partial) partial.push({ path: t.object.key, reason: r.sst.partialReason ?? 'partly verified' });
    }
    return r;
  }).finally(() => pool?.close());
  for (const r of results) problems.push(...r.problems);

  // When nothing of a backup authenticates under its key, the key is wrong: say so once.
  for (const b of backups) {
    if ((authOk.get(b.dir) ?? 0) === 0 && (authFailedAtStart.get(b.dir) ?? 0) > 0) {
      keyError = `wrong passphrase or key: no object of the backup ${b.dir || '.'} authenticates under the key (${b.keyVia})`;
    }
  }
  const sorted = sortProblems(keyError ? problems.filter((p) => p.kind !== 'authentication-failed') : problems);
  const errors = sorted.filter((p) => p.severity === 'error').length;
  const status: VerifyStatus = keyError ? 'key-error' : errors > 0 ? 'failed' : 'ok';
  const coverage = o.subset
    ? `subset ${o.subset.n}/${o.subset.t} of the data SSTs`
    : o.samplePercent !== undefined
      ? `random sample of ${o.samplePercent}% of the data SSTs`
      : 'full';
  return {
    status,
    keyError,
    problems: sorted,
    summary: {
      backups: backups.length,
      layers: collection.selected.reduce((n, b) => n + b.layers.length, 0),
      objectsChecked: results.length + manifestsChecked,
      bytesChecked: progress.bytesDone,
      manifestsChecked,
      sstsChecked,
      sstsPartiallyVerified: partial.length,
      cleartextObjects,
      objectsSkipped,
      errors,
      warnings: sorted.length - errors,
      durationMs: Date.now() - started,
      coverage,
      workers: pool ? workerCount : 0,
    },
    backups,
    partial,
  };
}

interface ManifestCheck {
  checked: boolean;
  /** Files the manifest lists (keys relative to the store root); undefined when it could not be read. */
  files?: string[];
  /** Manifest objects already authenticated here. */
  manifestKeys: Set<string>;
}

/** A backup without ENCRYPTION-INFO whose manifest is stored as plaintext (e.g. written by backup decrypt). */
async function isCleartextBackup(store: ObjectStore, backup: FullBackup): Promise<boolean> {
  const m = backup.layers[0]?.manifestKey;
  if (!m) return false;
  return !appearsEncrypted(await store.readRange(m, 0, 7));
}

async function checkLayerManifest(
  store: ObjectStore,
  layer: Layer,
  key: Buffer | undefined,
  problems: Problem[],
  onAuth: () => void,
  onFailedAtStart: () => void,
): Promise<ManifestCheck> {
  const manifestKeys = new Set<string>();
  if (!layer.manifestKey) {
    problems.push(
      problem(
        layerKey(layer, 'BACKUP_MANIFEST'),
        'missing',
        `the ${layer.kind} backup ${layer.dir || '.'} has no manifest (BACKUP_METADATA, BACKUP_MANIFEST or BACKUP): it cannot be restored`,
      ),
    );
    return { checked: false, manifestKeys };
  }
  // Every manifest present is checked (checksum, authentication, decoding); the first one in reader
  // order that decodes gives the file list, as CockroachDB's reader would use it.
  let files: string[] | undefined;
  let checked = false;
  const keys = layer.manifestKeys.length ? layer.manifestKeys : [layer.manifestKey];
  for (const mkey of keys) {
    manifestKeys.add(mkey);
    try {
      const res = await readManifest(store, layer, key ? (ct: Buffer) => decryptBuffer(key, ct) : null, {
        manifestKey: mkey,
        readFileListSst: (k: string) => sstEntriesOf(store, k, key),
      });
      onAuth();
      checked = true;
      if (res.checksum === 'mismatch') {
        problems.push(
          problem(mkey, 'checksum-mismatch', `${mkey}-CHECKSUM does not match the first 4 bytes of SHA-256 of the stored manifest`),
        );
      }
      files ??= res.manifest.files.map((f) => layerKey(layer, f.path));
    } catch (e) {
      if (e instanceof FormatError) {
        problems.push(problem(mkey, e.kind, `manifest: ${e.message}`));
        if (e instanceof AuthenticationError && e.chunk === 0) onFailedAtStart();
      } else if (e instanceof ManifestError) {
        problems.push(problem(e.path, e.kind, e.message));
        onAuth();
      } else if (e instanceof CliError) {
        throw e; // storage and key errors end the run with their own exit code
      } else {
        problems.push(problem(mkey, 'manifest-unreadable', `the manifest decrypts but cannot be decoded: ${(e as Error).message}`));
        onAuth();
      }
    }
  }
  return { checked, files, manifestKeys };
}

/** Entries of an encrypted SST (e.g. filelist.sst), decrypted lazily through the random-access reader. */
async function* sstEntriesOf(store: ObjectStore, objectKey: string, key: Buffer | undefined): AsyncIterable<{ key: Buffer; value: Buffer }> {
  const info = await store.stat(objectKey);
  if (!info) throw new ManifestError('missing', objectKey, `${objectKey} is missing: the manifest keeps its file list there`);
  const raw = { size: info.size, read: (a: number, b: number) => store.readRange(objectKey, a, b) };
  if (!key) {
    yield* iterateSstEntries(raw);
    return;
  }
  const reader = new ChunkedReader(raw, key);
  const size = await reader.open();
  yield* iterateSstEntries({ size, read: (a, b) => reader.read(a, b) });
}
