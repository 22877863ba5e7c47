/**
 * The shape of a CockroachDB backup collection in an object store (pkg/backup/backupdest, backupbase):
 *
 *   metadata/latest/LATEST-<hex>             newest first; content "/YYYY/MM/DD-HHMMSS.SS"
 *   LATEST                                   older location of the same
 *   metadata/index/...                       25.4+ backup index
 *   YYYY/MM/DD-HHMMSS.SS/                    a full backup (UTC end time)
 *   YYYY/MM/DD-HHMMSS.SS/YYYYMMDD/HHMMSS.SS/ an incremental in the old in-directory location
 *   incrementals/YYYY/MM/DD-HHMMSS.SS/YYYYMMDD/HHMMSS.SS[-YYYYMMDD-HHMMSS.SS]/
 *                                            an incremental (25.2+ appends "-<start time>")
 *
 * A store whose root holds BACKUP_MANIFEST / BACKUP_METADATA / BACKUP is one backup directory (a URI
 * pointing into a collection, or an old `BACKUP TO` destination); its appended incrementals are the
 * in-directory ones.
 *
 * discoverCollection lists the store once and assigns every object to a layer, to the collection
 * (LATEST, index) or to `stray`.
 */
import { StorageError, UsageError } from '../errors';
import type { ObjectInfo, ObjectStore } from '../storage/object-store';
import { objectRole } from './classify';
import { decodeLatestName, isTimestampedLatestKey, LATEST_FILE_NAME, normalizeBackupDir } from './latest';

/** Manifest names in reader order (BACKUP_METADATA first, then BACKUP_MANIFEST, then the old BACKUP). */
export const MANIFEST_NAMES = ['BACKUP_METADATA', 'BACKUP_MANIFEST', 'BACKUP'] as const;
export const CHECKSUM_SUFFIX = '-CHECKSUM';
export const INCREMENTALS_DIR = 'incrementals';

export interface Layer {
  /** Directory relative to the store root ('' when the store root is the backup itself). */
  dir: string;
  kind: 'full' | 'incremental';
  /** The manifest to read (first present of MANIFEST_NAMES), relative to the store root. */
  manifestKey?: string;
  /** Every manifest present, in reader order. */
  manifestKeys: string[];
  /** `<manifestKey>-CHECKSUM` when present. */
  checksumKey?: string;
  /** End time from the directory name (UTC). */
  endTime?: Date;
  /** Start time from a 25.2+ "-<start>" suffix. */
  startTime?: Date;
  /** Where an incremental was found: the `incrementals/` tree, or inside the full backup's directory. */
  location?: 'incrementals' | 'in-directory';
  /** Every object of this layer (keys relative to the store root), in key order. */
  objects: ObjectInfo[];
}

export interface FullBackup {
  /** Subdirectory of the collection, e.g. "2025/11/20-101500.00" ('' for a single-backup store). */
  dir: string;
  endTime?: Date;
  /** ENCRYPTION-INFO objects of the full backup, newest first (ENCRYPTION-INFO-3, -2, ENCRYPTION-INFO). */
  encryptionInfoKeys: string[];
  /** Index 0 is the full backup itself, then incrementals oldest first. */
  layers: Layer[];
}

export interface Collection {
  /** 'collection' = a collection root; 'backup' = the store root is one backup directory. */
  mode: 'collection' | 'backup';
  /** The full backup LATEST names, normalized ("2025/11/20-101500.00"). */
  latest?: string;
  /** The object LATEST was read from ("metadata/latest/LATEST-<hex>" or "LATEST"). */
  latestSource?: string;
  /** Write time decoded from a timestamped LATEST name. */
  latestTime?: Date;
  /** Every full backup found, oldest first. */
  backups: FullBackup[];
  /** The backups chosen by the options (default: LATEST's). */
  selected: FullBackup[];
  /** Every object listed. */
  objects: ObjectInfo[];
  /** Collection-level objects: LATEST files and metadata/index/*. */
  collectionObjects: ObjectInfo[];
  /** Objects that belong to no backup or layer. */
  stray: ObjectInfo[];
  /** Observations worth showing (fallbacks taken, odd layouts). */
  warnings: string[];
}

export interface DiscoverOptions {
  /** One full backup subdirectory ("2025/11/20-101500.00", with or without slashes) or "LATEST". */
  backup?: string;
  /** Every full backup. */
  all?: boolean;
}

const FULL_RE = /^(\d{4}\/\d{2}\/\d{2}-\d{6}\.\d{2})(?:\/|$)/;
/** "<YYYYMMDD>/<HHMMSS.SS>[-<YYYYMMDD-HHMMSS.SS>]" at the start of a path. */
const INC_SUB_RE = /^(\d{8})\/(\d{6}\.\d{2})(?:-(\d{8})-(\d{6}\.\d{2}))?(?:\/|$)/;

function parseFullDirTime(dir: string): Date | undefined {
  const m = /^(\d{4})\/(\d{2})\/(\d{2})-(\d{2})(\d{2})(\d{2})\.(\d{2})$/.exec(dir);
  if (!m) return undefined;
  return utc(m[1], m[2], m[3], m[4], m[5], m[6], m[7]);
}

function parseCompactTime(date: string, time: string): Date | undefined {
  const d = /^(\d{4})(\d{2})(\d{2})$/.exec(date);
  const t = /^(\d{2})(\d{2})(\d{2})\.(\d{2})$/.exec(time);
  if (!d || !t) return undefined;
  return utc(d[1], d[2], d[3], t[1], t[2], t[3], t[4]);
}

function utc(y: string, mo: string, d: string, h: string, mi: string, s: string, cs: string): Date | undefined {
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(cs) * 10);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

function join(dir: string, rel: string): string {
  return dir ? `${dir}/${rel}` : rel;
}

/** Key of an object of a layer (e.g. a manifest file path "data/1.sst"), relative to the store root. */
export function layerKey(layer: Pick<Layer, 'dir'>, rel: string): string {
  return join(layer.dir, rel.replace(/^\/+/, ''));
}

/** Key relative to the layer directory. */
export function relativeToLayer(layer: Pick<Layer, 'dir'>, key: string): string {
  return layer.dir && key.startsWith(layer.dir + '/') ? key.slice(layer.dir.length + 1) : key;
}

interface LayerDraft {
  layer: Layer;
  fullDir: string;
}

function newLayer(dir: string, kind: Layer['kind'], extra: Partial<Layer> = {}): Layer {
  return { dir, kind, manifestKeys: [], objects: [], ...extra };
}

function finishLayer(layer: Layer): void {
  const present = new Set(layer.objects.map((o) => o.key));
  layer.manifestKeys = MANIFEST_NAMES.map((n) => join(layer.dir, n)).filter((k) => present.has(k));
  layer.manifestKey = layer.manifestKeys[0];
  const ck = layer.manifestKey ? layer.manifestKey + CHECKSUM_SUFFIX : undefined;
  layer.checksumKey = ck && present.has(ck) ? ck : undefined;
  layer.objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function encryptionInfoKeys(full: Layer): string[] {
  const found: Array<{ key: string; n: number }> = [];
  for (const o of full.objects) {
    const rel = relativeToLayer(full, o.key);
    const m = /^ENCRYPTION-INFO(?:-(\d+))?$/.exec(rel);
    if (m) found.push({ key: o.key, n: m[1] ? Number(m[1]) : 1 });
  }
  return found.sort((a, b) => b.n - a.n).map((f) => f.key);
}

async function listAll(store: ObjectStore): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const o of store.list('')) {
    // Zero-byte "directory marker" objects (some tools create "a/b/") carry nothing.
    if (o.key.endsWith('/')) continue;
    out.push(o);
  }
  return out;
}

/** Reads LATEST: the first (newest) metadata/latest/LATEST-<hex>, then the old root LATEST. */
async function findLatest(
  store: ObjectStore,
  objects: ObjectInfo[],
  warnings: string[],
): Promise<{ latest?: string; source?: string; time?: Date }> {
  const timestamped = objects
    .filter((o) => isTimestampedLatestKey(o.key))
    .map((o) => o.key)
    .sort();
  const candidates = [...timestamped];
  if (objects.some((o) => o.key === LATEST_FILE_NAME)) candidates.push(LATEST_FILE_NAME);
  for (const key of candidates) {
    const content = normalizeBackupDir((await store.read(key)).toString('utf8'));
    if (!content) {
      warnings.push(`${key} is empty; trying the next LATEST`);
      continue;
    }
    if (key === LATEST_FILE_NAME && timestamped.length > 0) {
      warnings.push('no readable metadata/latest/LATEST-<hex>; used the older root LATEST');
    }
    return { latest: content, source: key, time: decodeLatestName(key)?.time };
  }
  return {};
}

function describeBackups(backups: FullBackup[]): string {
  if (backups.length === 0) return 'none';
  return backups.map((b) => '/' + b.dir).join(', ');
}

/**
 * Lists the store and builds the collection model. Throws StorageError when the store holds nothing,
 * UsageError when it holds no backup or the requested --backup does not exist.
 */
export async function discoverCollection(store: ObjectStore, opts: DiscoverOptions = {}): Promise<Collection> {
  const objects = await listAll(store);
  const where = store.displayUri;
  if (objects.length === 0) {
    throw new StorageError(
      `no objects at ${where}: the location is empty or does not exist`,
      'empty',
      'check the URI: it should name a backup collection (the directory holding metadata/latest and YYYY/MM/...) or one backup directory',
    );
  }

  const warnings: string[] = [];
  const collectionObjects: ObjectInfo[] = [];
  const stray: ObjectInfo[] = [];
  const fulls = new Map<string, Layer>();
  const incs = new Map<string, LayerDraft>();

  const rootIsBackup = objects.some((o) => (MANIFEST_NAMES as readonly string[]).includes(o.key));
  const hasFullDirs = objects.some((o) => {
    const m = FULL_RE.exec(o.key);
    return m !== null && o.key.length > m[0].length;
  });
  const mode: Collection['mode'] = !hasFullDirs && rootIsBackup ? 'backup' : 'collection';

  const incLayer = (fullDir: string, dir: string, m: RegExpExecArray, location: Layer['location']): Layer => {
    let d = incs.get(dir);
    if (!d) {
      d = {
        fullDir,
        layer: newLayer(dir, 'incremental', {
          endTime: parseCompactTime(m[1], m[2]),
          startTime: m[3] ? parseCompactTime(m[3], m[4]) : undefined,
          location,
        }),
      };
      incs.set(dir, d);
    }
    return d.layer;
  };
  const fullLayer = (dir: string): Layer => {
    let l = fulls.get(dir);
    if (!l) {
      l = newLayer(dir, 'full', { endTime: dir ? parseFullDirTime(dir) : undefined });
      fulls.set(dir, l);
    }
    return l;
  };

  for (const o of objects) {
    const key = o.key;
    if (
      key === LATEST_FILE_NAME ||
      key.startsWith('metadata/latest/') ||
      key.startsWith('metadata/index/') ||
      objectRole(key) === 'store-key' ||
      objectRole(key) === 'marker'
    ) {
      collectionObjects.push(o);
      continue;
    }
    if (mode === 'backup') {
      const m = INC_SUB_RE.exec(key);
      if (m && key.length > m[0].length) {
        incLayer('', m[0].replace(/\/$/, ''), m, 'in-directory').objects.push(o);
      } else {
        fullLayer('').objects.push(o);
      }
      continue;
    }
    if (key.startsWith(INCREMENTALS_DIR + '/')) {
      const rest = key.slice(INCREMENTALS_DIR.length + 1);
      const f = FULL_RE.exec(rest);
      const m = f ? INC_SUB_RE.exec(rest.slice(f[0].length)) : null;
      if (f && m && rest.length > f[0].length + m[0].length) {
        const dir = `${INCREMENTALS_DIR}/${f[1]}/${m[0].replace(/\/$/, '')}`;
        incLayer(f[1], dir, m, 'incrementals').objects.push(o);
      } else {
        stray.push(o);
      }
      continue;
    }
    const f = FULL_RE.exec(key);
    if (f && key.length > f[0].length) {
      const inner = key.slice(f[0].length);
      const m = INC_SUB_RE.exec(inner);
      if (m && inner.length > m[0].length) {
        incLayer(f[1], `${f[1]}/${m[0].replace(/\/$/, '')}`, m, 'in-directory').objects.push(o);
      } else {
        fullLayer(f[1]).objects.push(o);
      }
      continue;
    }
    stray.push(o);
  }

  for (const l of fulls.values()) finishLayer(l);
  const backups: FullBackup[] = [...fulls.values()]
    .sort((a, b) => (a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0))
    .map((l) => ({ dir: l.dir, endTime: l.endTime, encryptionInfoKeys: encryptionInfoKeys(l), layers: [l] }));
  const byDir = new Map(backups.map((b) => [b.dir, b]));

  for (const d of incs.values()) {
    finishLayer(d.layer);
    const owner = byDir.get(d.fullDir);
    if (!owner) {
      warnings.push(`incremental ${d.layer.dir} belongs to full backup /${d.fullDir}, which is not in the store`);
      stray.push(...d.layer.objects);
      continue;
    }
    owner.layers.push(d.layer);
  }
  for (const b of backups) {
    const [full, ...rest] = b.layers;
    // Oldest first: end time, then start time ("-<start>" suffixes sort after the bare name, as CockroachDB's sort does).
    rest.sort((x, y) => {
      const ex = x.endTime?.getTime() ?? 0;
      const ey = y.endTime?.getTime() ?? 0;
      if (ex !== ey) return ex - ey;
      const sx = x.startTime?.getTime() ?? -1;
      const sy = y.startTime?.getTime() ?? -1;
      if (sx !== sy) return sx - sy;
      return x.dir < y.dir ? -1 : x.dir > y.dir ? 1 : 0;
    });
    b.layers = [full, ...rest];
    if (rest.some((l) => l.location === 'in-directory') && rest.some((l) => l.location === 'incrementals')) {
      warnings.push(
        `full backup /${b.dir} has incrementals both in ${INCREMENTALS_DIR}/ and inside its own directory (CockroachDB refuses such a chain)`,
      );
    }
    for (const l of b.layers) {
      if (!l.manifestKey) warnings.push(`${l.dir || 'the backup'} has no manifest (BACKUP_METADATA, BACKUP_MANIFEST or BACKUP)`);
    }
  }

  if (backups.length === 0) {
    const top = [...new Set(objects.map((o) => o.key.split('/')[0]))].slice(0, 10);
    throw new UsageError(
      `no backup found at ${where}: expected metadata/latest, YYYY/MM/DD-HHMMSS.SS backup directories, or a BACKUP_MANIFEST at the root; found ${top.join(', ')}`,
      'point the URI at the collection (the location given to BACKUP INTO) or at one backup directory',
    );
  }

  const { latest, source: latestSource, time: latestTime } = mode === 'collection' ? await findLatest(store, objects, warnings) : {};

  let selected: FullBackup[];
  if (opts.all) {
    selected = backups;
  } else if (opts.backup !== undefined && normalizeBackupDir(opts.backup).toUpperCase() !== 'LATEST') {
    const want = normalizeBackupDir(opts.backup);
    const b = byDir.get(want) ?? (mode === 'backup' && want === '' ? byDir.get('') : undefined);
    if (!b) {
      throw new UsageError(
        `backup /${want} does not exist in ${where}; backups present: ${describeBackups(backups)}`,
        'pass one of the listed subdirectories to --backup, or --all',
      );
    }
    selected = [b];
  } else if (mode === 'backup') {
    selected = backups;
  } else if (latest !== undefined) {
    const b = byDir.get(latest);
    if (!b) {
      throw new UsageError(
        `LATEST (${latestSource}) names /${latest}, which is not in ${where}; backups present: ${describeBackups(backups)}`,
        'pass --backup SUBDIR or --all',
      );
    }
    selected = [b];
  } else {
    selected = [backups[backups.length - 1]];
    warnings.push(`no LATEST file found; selected the newest full backup /${selected[0].dir}`);
  }

  return { mode, latest, latestSource, latestTime, backups, selected, objects, collectionObjects, stray, warnings };
}

/** Every layer of the selected backups, full first within each backup. */
export function selectedLayers(c: Collection): Layer[] {
  return c.selected.flatMap((b) => b.layers);
}

/** Every object of the selected backups (not collection-level objects). */
export function selectedObjects(c: Collection): ObjectInfo[] {
  return selectedLayers(c).flatMap((l) => l.objects);
}
