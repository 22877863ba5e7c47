/**
 * `backup audit`: compliance evidence for an encrypted collection. Every object of the store is read once
 * (SHA-256 recorded) and:
 *
 *  - must-be-ciphertext objects: start with the "encrypt" preamble, carry a known format version, have a
 *    size a writer can produce, show no plaintext signature (an SST footer magic at the end, the preamble
 *    more than once), and have a byte distribution a cipher produces (chi-square over the body). Findings
 *    `not-encrypted`, `truncated`, `unsupported-version`.
 *  - cleartext-by-design objects hold no secret: ENCRYPTION-INFO decodes and re-encodes to the same bytes
 *    (only scheme, a 16-byte salt and wrapped keys; no value short enough to be a raw key), LATEST holds
 *    only a backup path, BACKUP-LOCK holds "lock", -CHECKSUM 4 bytes, store-key objects decode (their
 *    format has no room for key material), the in-progress marker only its JSON fields; and none of them
 *    contains a key or passphrase this run knows (raw, hex or base64). Finding `secret-exposed`.
 *  - nothing opens without the key: chunk 0 of EVERY must-be-ciphertext object is tried with no key (an
 *    all-zero key, and the key of an empty passphrase when the backup has a salt) and with a random wrong
 *    key; any success is `readable-without-key`.
 *  - with key flags: the right key opens chunk 0 of every must-be-ciphertext object of every backup
 *    (`authentication-failed` otherwise; nothing opening at all is a key error).
 *  - with a CMEK: it is the only way in. Store-key objects wrapped by another key, passphrase salts and
 *    ENCRYPTION-INFO entries that are not this CMEK's store-key entries are `cmek-bypass` findings; chain
 *    entries for store keys no longer present anywhere are notes (nobody can open them).
 *  - expectRevoked: a drill. The CMEK must refuse now (its reason is recorded) and no object may open;
 *    a CMEK that still opens is `cmek-not-revoked`. Other key flags are not used in this mode.
 */
import { createHash, randomBytes } from 'node:crypto';
import { classifyObject, objectRole, type ObjectRole } from '../backup/classify';
import type { Collection, FullBackup } from '../backup/layout';
import {
  CHAIN_MAGIC,
  CmekRefusedError,
  KIND_DATA_KEY_ENTRY,
  decodeStoreKeyObject,
  openStoreKeys,
  readStoreKeyObjects,
  storeKeyEntryMapKey,
  wrappedBy,
  type OpenedStoreKey,
} from '../chain';
import { KeyError } from '../errors';
import { CHUNK_SIZE, ChunkedReader, HEADER_SIZE, PREAMBLE, VERSION_V1, VERSION_V2, plaintextSize } from '../format/chunked';
import { FormatError } from '../format/errors';
import { decodeEncryptionInfo, encodeEncryptionInfo, kmsMapKey, type EncryptionInfo } from '../keys/encryption-info';
import { deriveKeyFromPassphrase } from '../keys/passphrase';
import type { KmsProvider } from '../kms/provider';
import type { ObjectStore } from '../storage/object-store';
import { LEVELDB_MAGIC, PEBBLE_MAGIC, ROCKSDB_MAGIC } from '../backup/sst-format';
import type { Keyring } from './keyring';
import { INCOMPLETE_MARKER } from './markers';
import { mapPool } from './pool';
import { problem, sortProblems, type Problem } from './problems';

export interface AuditOptions {
  store: ObjectStore;
  collection: Collection;
  /** The usual key flags, for the sanity check that the right key opens every backup. */
  keyring?: Keyring;
  /** The CMEK (--cmek): the only-way-in checks, and the drill with expectRevoked. */
  cmek?: KmsProvider;
  /** Native KMS keys given (--kms), to name their entries. */
  kms?: KmsProvider[];
  /** The passphrase given, only to make sure no cleartext object contains it. */
  passphrase?: string;
  expectRevoked?: boolean;
  concurrency: number;
  onProgress?: (p: { objectsDone: number; objectsTotal: number; bytesDone: number; bytesTotal: number }) => void;
}

export type AuditStatus = 'ok' | 'failed' | 'key-error';

export interface AuditedObject {
  path: string;
  size: number;
  sha256: string;
  class: 'ciphertext' | 'cleartext';
  role: ObjectRole;
  /** Format version byte of a ciphertext object. */
  version?: number;
  /** Chi-square statistic of the body's byte histogram (ciphertext objects of 4 KiB or more; ~255 for a cipher). */
  chiSquare?: number;
  /** Chunk 0 tried without the key: 'refused' (as it must be), 'opened', or 'not-tried' (invalid header). */
  withoutKey: 'refused' | 'opened' | 'not-tried' | 'n/a';
  /** Chunk 0 under the right key: 'opened', 'failed', or 'not-tried'. */
  withKey: 'opened' | 'failed' | 'not-tried' | 'n/a';
}

export interface EncryptionInfoEvidence {
  backup: string;
  file: string;
  salt: boolean;
  entries: { mapKey: string; valueBytes: number; kind: 'cmek-store-key' | 'store-key-other' | 'kms-given' | 'kms-unknown'; id?: string }[];
}

export interface AuditResult {
  status: AuditStatus;
  keyError?: string;
  problems: Problem[];
  notes: string[];
  startedAt: string;
  finishedAt: string;
  mode: 'audit' | 'revocation-drill';
  coverage: string;
  keys: {
    cmek?: { provider: string; keyId: string; state: 'opens' | 'refused' | 'not-tried'; reason?: string };
    kms: { provider: string; keyId: string; mapKey: string }[];
    passphrase: boolean;
    storeKeys: { object: string; storeKeyId: string; bits: number; wrappedBy: string }[];
    /** Per backup: how its data key was found, and a fingerprint (SHA-256 of a label and the key, first 16 hex). */
    dataKeys: { backup: string; via: string; fingerprint: string }[];
    encryptionInfo: EncryptionInfoEvidence[];
  };
  revocation?: { refused: boolean; reason?: string };
  counts: {
    objects: number;
    bytes: number;
    ciphertext: number;
    cleartext: number;
    triedWithoutKey: number;
    openedWithoutKey: number;
    triedWithKey: number;
    openedWithKey: number;
    backups: number;
    errors: number;
  };
  objects: AuditedObject[];
}

const SST_MAGICS: [string, Buffer][] = [
  ['RocksDB', ROCKSDB_MAGIC],
  ['LevelDB', LEVELDB_MAGIC],
  ['Pebble', PEBBLE_MAGIC],
];
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
/** A cleartext-by-design object larger than this is itself suspicious (they are all tiny). */
const CLEARTEXT_LIMIT = 1024 * 1024;
/** Chi-square over 256 bins: mean 255, sd ~22.6. 600 is ~15 sd: a cipher never gets there; plaintext does at once. */
const CHI_SQUARE_LIMIT = 600;
const CHI_SQUARE_MIN_BYTES = 4096;
const LATEST_RE = /^\/?\d{4}\/\d{2}\/\d{2}-\d{6}\.\d{2}\/?\n?$/;
const MARKER_FIELDS = new Set(['operation', 'started', 'source', 'tool']);

export function keyFingerprint(key: Buffer): string {
  return createHash('sha256').update('crdb-cmek key fingerprint\u0000').update(key).digest('hex').slice(0, 16);
}

interface Secret {
  what: string;
  forms: Buffer[];
}

function secretForms(what: string, raw: Buffer): Secret {
  return { what, forms: [raw, Buffer.from(raw.toString('hex')), Buffer.from(raw.toString('base64').replace(/=+$/, ''))] };
}

export async function audit(o: AuditOptions): Promise<AuditResult> {
  const startedAt = new Date();
  const { store, collection } = o;
  const problems: Problem[] = [];
  const notes: string[] = [];
  let keyError: string | undefined;
  const secrets: Secret[] = [];
  if (o.passphrase && o.passphrase.length >= 4 && !o.expectRevoked) {
    secrets.push({ what: 'the passphrase', forms: [Buffer.from(o.passphrase, 'utf8')] });
  }

  // Which full backup each object belongs to.
  const ownerOf = new Map<string, FullBackup>();
  for (const b of collection.backups) for (const l of b.layers) for (const x of l.objects) ownerOf.set(x.key, b);

  // ---- store-key objects ------------------------------------------------------------------------
  const storedKeys = await readStoreKeyObjects(store);
  const storeKeyEvidence: AuditResult['keys']['storeKeys'] = [];
  const knownStoreKeyIds = new Map<string, { wrapper: string; mine: boolean }>(); // map key hex -> ...
  for (const s of storedKeys) {
    if (!s.object) continue;
    const hex = s.object.storeKeyId.toString('hex');
    const mine = o.cmek ? wrappedBy(s.object, o.cmek) : false;
    const wrapper = `${s.object.cmekProvider} key ${s.object.cmekKeyId}`;
    storeKeyEvidence.push({ object: s.key, storeKeyId: hex, bits: s.object.storeKeySize * 8, wrappedBy: wrapper });
    const mk = storeKeyEntryMapKey(hex).toString('hex');
    const prev = knownStoreKeyIds.get(mk);
    knownStoreKeyIds.set(mk, { wrapper: prev && prev.wrapper !== wrapper ? `${prev.wrapper}, ${wrapper}` : wrapper, mine: mine || Boolean(prev?.mine) });
  }

  // ---- the CMEK now -------------------------------------------------------------------------------
  let cmekState: NonNullable<AuditResult['keys']['cmek']> | undefined;
  let revocation: AuditResult['revocation'];
  let opened: OpenedStoreKey[] = [];
  if (o.cmek) {
    cmekState = { provider: o.cmek.provider, keyId: o.cmek.keyId, state: 'not-tried' };
    try {
      opened = await openStoreKeys(store, o.cmek, storedKeys);
      cmekState.state = 'opens';
      for (const s of opened) secrets.push(secretForms(`the store key ${s.storeKey.id.toString('hex').slice(0, 16)}…`, s.storeKey.key));
    } catch (e) {
      if (!(e instanceof KeyError)) throw e;
      if (e instanceof CmekRefusedError) {
        cmekState.state = 'refused';
        cmekState.reason = e.reason;
      }
      if (o.expectRevoked) {
        if (!(e instanceof CmekRefusedError)) {
          throw new KeyError(`cannot run the revocation drill: ${e.message}`, e.hint);
        }
        if (/^unreachable\b/.test(e.reason)) {
          throw new KeyError(
            `cannot run the revocation drill: the CMEK service is unreachable (${e.reason}); an unreachable service is not a refusal`,
          );
        }
        revocation = { refused: true, reason: e.reason };
      } else {
        keyError = e.message;
      }
    }
    if (o.expectRevoked && cmekState.state === 'opens') {
      revocation = { refused: false };
      problems.push(
        problem(
          opened[0]?.objectKey ?? 'crdb-cmek/STORE-KEY',
          'cmek-not-revoked',
          `the CMEK (${o.cmek.provider} key ${o.cmek.keyId}) still unwraps the store key now: it is not revoked`,
        ),
      );
    }
  }

  // ---- data keys with the given key(s) ---------------------------------------------------------------
  const infosByBackup = new Map<string, { key: string; index: number; info: EncryptionInfo }[]>();
  const infoEvidence: EncryptionInfoEvidence[] = [];
  const dataKeys = new Map<string, Buffer>();
  const dataKeyEvidence: AuditResult['keys']['dataKeys'] = [];
  const kmsIds = new Map((o.kms ?? []).map((k) => [kmsMapKey(k.keyId).toString('hex'), k]));
  for (const b of collection.backups) {
    const infos: { key: string; index: number; info: EncryptionInfo }[] = [];
    let undecodable = false;
    for (const key of b.encryptionInfoKeys) {
      try {
        infos.push({ key, index: 0, info: decodeEncryptionInfo(await store.read(key)) });
      } catch {
        undecodable = true; // a secret-exposed finding of the object scan
      }
    }
    infosByBackup.set(b.dir, infos);
    for (const { key, info } of infos) {
      infoEvidence.push({
        backup: b.dir,
        file: key,
        salt: Boolean(info.salt && info.salt.length),
        entries: info.kmsEntries.map((e) => {
          const mk = e.keyHash.toString('hex');
          const sk = knownStoreKeyIds.get(mk);
          const k = kmsIds.get(mk);
          return {
            mapKey: mk,
            valueBytes: e.encryptedDataKey.length,
            kind: sk ? (sk.mine ? 'cmek-store-key' : 'store-key-other') : k ? 'kms-given' : 'kms-unknown',
            ...(sk ? { id: sk.wrapper } : k ? { id: `${k.provider} key ${k.keyId}` } : {}),
          };
        }),
      });
    }
    if (o.expectRevoked || keyError || !o.keyring) continue;
    try {
      const r = await o.keyring.dataKeyFor(b.dir, infos);
      dataKeys.set(b.dir, r.key);
      dataKeyEvidence.push({ backup: b.dir, via: r.via, fingerprint: keyFingerprint(r.key) });
      secrets.push(secretForms(`the data key of backup ${b.dir || '.'}`, r.key));
    } catch (e) {
      if (!(e instanceof KeyError)) throw e;
      // An ENCRYPTION-INFO that does not decode is a finding of its own, not a wrong key.
      if (undecodable) notes.push(`backup ${b.dir || '.'}: the data key could not be found (${e.message}); an ENCRYPTION-INFO file does not decode`);
      else keyError = e.message;
    }
  }

  // ---- keys that must NOT open anything --------------------------------------------------------------
  const zeroKey = Buffer.alloc(32);
  const wrongKey = randomBytes(32);
  const emptyPassKeys = new Map<string, Buffer>();
  for (const b of collection.backups) {
    const salt = infosByBackup.get(b.dir)?.find((i) => i.info.salt?.length)?.info.salt;
    if (salt) emptyPassKeys.set(b.dir, await deriveKeyFromPassphrase('', salt));
  }

  // ---- every object ---------------------------------------------------------------------------------
  const objects = [...collection.objects].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const progress = { objectsDone: 0, objectsTotal: objects.length, bytesDone: 0, bytesTotal: objects.reduce((n, x) => n + x.size, 0) };
  o.onProgress?.(progress);
  const audited = await mapPool(objects, o.concurrency, async (obj) => {
    const cls = classifyObject(obj.key);
    const role = objectRole(obj.key);
    const found: Problem[] = [];
    const scan = await scanObject(store, obj.key, cls === 'cleartext', (n) => {
      progress.bytesDone += n;
      o.onProgress?.(progress);
    });
    const rec: AuditedObject = { path: obj.key, size: scan.size, sha256: scan.sha256, class: cls, role, withoutKey: 'n/a', withKey: 'n/a' };
    if (cls === 'ciphertext') {
      const header = checkCiphertext(obj.key, scan, found);
      rec.version = scan.head.length > PREAMBLE.length ? scan.head[PREAMBLE.length] : undefined;
      rec.chiSquare = scan.chiSquare === undefined ? undefined : Math.round(scan.chiSquare * 10) / 10;
      rec.withoutKey = 'not-tried';
      rec.withKey = 'not-tried';
      if (header) {
        const owner = ownerOf.get(obj.key);
        const tries: [string, Buffer][] = [
          ['no key (an all-zero key)', zeroKey],
          ['a random wrong key', wrongKey],
        ];
        const empty = owner ? emptyPassKeys.get(owner.dir) : undefined;
        if (empty) tries.push(['an empty passphrase', empty]);
        rec.withoutKey = 'refused';
        for (const [what, key] of tries) {
          if ((await chunk0(store, obj.key, scan.size, key)) === 'opened') {
            rec.withoutKey = 'opened';
            found.push(problem(obj.key, 'readable-without-key', `chunk 0 authenticates under ${what}: the object can be read without the real key`));
          }
        }
        const right = owner ? dataKeys.get(owner.dir) : undefined;
        if (right) {
          const r = await chunk0(store, obj.key, scan.size, right);
          rec.withKey = r === 'opened' ? 'opened' : 'failed';
        }
      }
    } else {
      checkCleartext(obj.key, role, scan, found);
      if (scan.bytes) {
        for (const s of secrets) {
          if (s.forms.some((f) => f.length >= 8 && scan.bytes!.includes(f))) {
            found.push(problem(obj.key, 'secret-exposed', `this cleartext object contains ${s.what}`));
          }
        }
      }
    }
    progress.objectsDone++;
    o.onProgress?.(progress);
    return { rec, found };
  });
  for (const a of audited) problems.push(...a.found);

  // Right key: per backup, nothing opening is a key error; some failing is damage or a foreign object.
  for (const b of collection.backups) {
    if (!dataKeys.has(b.dir)) continue;
    const recs = audited.filter((a) => ownerOf.get(a.rec.path) === b && a.rec.withKey !== 'n/a' && a.rec.withKey !== 'not-tried');
    const ok = recs.filter((a) => a.rec.withKey === 'opened').length;
    if (recs.length > 0 && ok === 0) {
      keyError ??= `wrong passphrase or key: no object of the backup ${b.dir || '.'} authenticates under the key given`;
    } else {
      for (const a of recs) {
        if (a.rec.withKey === 'failed') problems.push(problem(a.rec.path, 'authentication-failed', 'chunk 0 does not authenticate under the backup\'s data key'));
      }
    }
  }

  // ---- the CMEK is the only way in ---------------------------------------------------------------------
  if (o.cmek) {
    for (const s of storedKeys) {
      if (s.object && !wrappedBy(s.object, o.cmek)) {
        problems.push(
          problem(
            s.key,
            'cmek-bypass',
            `this store-key object is wrapped by another key (${s.object.cmekProvider} key ${s.object.cmekKeyId}): whoever holds that key can open the store key; retire it (backup rewrap --to-cmek ... --retire-old) or disable that key`,
          ),
        );
      }
    }
    for (const ev of infoEvidence) {
      if (ev.salt) {
        problems.push(problem(ev.file, 'cmek-bypass', 'a passphrase salt: this backup can also be opened with a passphrase, without the CMEK'));
      }
      const info = infosByBackup.get(ev.backup)?.find((i) => i.key === ev.file)?.info;
      for (const e of ev.entries) {
        if (e.kind === 'cmek-store-key') continue;
        if (e.kind === 'store-key-other') {
          problems.push(problem(ev.file, 'cmek-bypass', `an entry for a store key wrapped by ${e.id}: that key opens this backup without the CMEK`));
          continue;
        }
        const value = info?.encryptedDataKeyByKMSMasterKeyID.get(e.mapKey);
        if (value && isChainEntry(value)) {
          notes.push(
            `${ev.file}: a store-key entry (map key ${e.mapKey.slice(0, 16)}…) for a store key with no store-key object left in the collection: nobody can open it through this collection`,
          );
          continue;
        }
        problems.push(
          problem(
            ev.file,
            'cmek-bypass',
            `a native KMS entry (${e.id ?? `key ID SHA-256 ${e.mapKey}`}): that KMS opens this backup without the CMEK`,
          ),
        );
      }
    }
    for (const b of collection.backups) {
      const infos = infosByBackup.get(b.dir) ?? [];
      const chainEntry = infos.some(({ info }) => info.kmsEntries.some((e) => knownStoreKeyIds.get(e.keyHash.toString('hex'))?.mine));
      if (!chainEntry && infos.length) {
        if (o.expectRevoked) notes.push(`backup ${b.dir || '.'} has no entry for a store key this CMEK wraps: the drill says nothing about it`);
        else keyError ??= `backup ${b.dir || '.'} cannot be opened through the CMEK ${o.cmek.keyId}: none of its ENCRYPTION-INFO entries belongs to a store key it wraps`;
      }
    }
  }

  const incomplete = objects.some((x) => x.key === INCOMPLETE_MARKER);
  if (incomplete) problems.push(problem(INCOMPLETE_MARKER, 'incomplete', 'a crdb-cmek write did not finish here: the collection is incomplete'));

  for (const k of [...dataKeys.values(), ...emptyPassKeys.values()]) k.fill(0);
  for (const s of opened) s.storeKey.key.fill(0);

  const sorted = sortProblems(problems);
  const errors = sorted.filter((p) => p.severity === 'error').length;
  const recs = audited.map((a) => a.rec);
  const status: AuditStatus = keyError && !o.expectRevoked ? 'key-error' : errors > 0 ? 'failed' : 'ok';
  return {
    status,
    keyError: status === 'key-error' ? keyError : undefined,
    problems: sorted,
    notes,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    mode: o.expectRevoked ? 'revocation-drill' : 'audit',
    coverage:
      'every object read in full and hashed; without-key tries on chunk 0 of every must-be-ciphertext object (an all-zero key, a random key, and an empty passphrase where a salt exists)' +
      (dataKeys.size ? '; the right key tried on chunk 0 of every must-be-ciphertext object' : ''),
    keys: {
      cmek: cmekState,
      kms: (o.kms ?? []).map((k) => ({ provider: k.provider, keyId: k.keyId, mapKey: kmsMapKey(k.keyId).toString('hex') })),
      passphrase: Boolean(o.passphrase),
      storeKeys: storeKeyEvidence,
      dataKeys: dataKeyEvidence,
      encryptionInfo: infoEvidence,
    },
    revocation,
    counts: {
      objects: recs.length,
      bytes: recs.reduce((n, r) => n + r.size, 0),
      ciphertext: recs.filter((r) => r.class === 'ciphertext').length,
      cleartext: recs.filter((r) => r.class === 'cleartext').length,
      triedWithoutKey: recs.filter((r) => r.withoutKey === 'refused' || r.withoutKey === 'opened').length,
      openedWithoutKey: recs.filter((r) => r.withoutKey === 'opened').length,
      triedWithKey: recs.filter((r) => r.withKey === 'opened' || r.withKey === 'failed').length,
      openedWithKey: recs.filter((r) => r.withKey === 'opened').length,
      backups: collection.backups.length,
      errors,
    },
    objects: recs,
  };
}

function isChainEntry(value: Buffer): boolean {
  return value.length > CHAIN_MAGIC.length && value.subarray(0, CHAIN_MAGIC.length).equals(CHAIN_MAGIC) && value[CHAIN_MAGIC.length] === KIND_DATA_KEY_ENTRY;
}

// ---- one pass over an object -------------------------------------------------------------------------

interface Scan {
  size: number;
  sha256: string;
  head: Buffer;
  tail: Buffer;
  /** Occurrences of the "encrypt" preamble anywhere in the object. */
  preambles: number;
  chiSquare?: number;
  /** The whole object, for cleartext objects up to CLEARTEXT_LIMIT. */
  bytes?: Buffer;
}

async function scanObject(store: ObjectStore, key: string, keepBytes: boolean, onBytes: (n: number) => void): Promise<Scan> {
  const hash = createHash('sha256');
  const hist = new Float64Array(256);
  let size = 0;
  let head = Buffer.alloc(0);
  let tail = Buffer.alloc(0);
  let carry = Buffer.alloc(0);
  let preambles = 0;
  const kept: Buffer[] = [];
  const stream = await store.createReadStream(key);
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    if (head.length < 64) head = Buffer.concat([head, chunk.subarray(0, 64 - head.length)]);
    // Body histogram: everything after the 20-byte header.
    const from = Math.max(0, HEADER_SIZE - size);
    for (let i = from; i < chunk.length; i++) hist[chunk[i]]++;
    const window = Buffer.concat([carry, chunk]);
    let at = window.indexOf(PREAMBLE);
    while (at >= 0) {
      preambles++;
      at = window.indexOf(PREAMBLE, at + 1);
    }
    carry = Buffer.from(window.subarray(Math.max(0, window.length - (PREAMBLE.length - 1))));
    tail = Buffer.concat([tail, chunk]);
    if (tail.length > 64) tail = Buffer.from(tail.subarray(tail.length - 64));
    if (keepBytes && size + chunk.length <= CLEARTEXT_LIMIT) kept.push(chunk);
    size += chunk.length;
    onBytes(chunk.length);
  }
  const bodyLen = Math.max(0, size - HEADER_SIZE);
  let chiSquare: number | undefined;
  if (bodyLen >= CHI_SQUARE_MIN_BYTES) {
    const e = bodyLen / 256;
    chiSquare = 0;
    for (let i = 0; i < 256; i++) chiSquare += (hist[i] - e) ** 2 / e;
  }
  return {
    size,
    sha256: hash.digest('hex'),
    head,
    tail,
    preambles,
    chiSquare,
    bytes: keepBytes && size <= CLEARTEXT_LIMIT ? Buffer.concat(kept) : undefined,
  };
}

/** Returns true when the header is sound enough to try chunk 0. */
function checkCiphertext(key: string, s: Scan, out: Problem[]): boolean {
  const sst = SST_MAGICS.find(([, m]) => s.tail.length >= 8 && s.tail.subarray(s.tail.length - 8).equals(m));
  if (s.head.length < PREAMBLE.length || !s.head.subarray(0, PREAMBLE.length).equals(PREAMBLE)) {
    const sig = sst
      ? `; it ends with the ${sst[0]} table footer magic: a plaintext SST`
      : s.head.subarray(0, 2).equals(GZIP_MAGIC)
        ? '; it starts with the gzip magic: a plaintext (compressed) manifest or protobuf'
        : '';
    out.push(problem(key, 'not-encrypted', `the object does not start with the "encrypt" preamble: it is stored as plaintext${sig}`));
    return false;
  }
  let ok = true;
  const version = s.head.length > PREAMBLE.length ? s.head[PREAMBLE.length] : undefined;
  if (version !== VERSION_V1 && version !== VERSION_V2) {
    out.push(
      problem(key, version === undefined ? 'truncated' : 'unsupported-version', version === undefined ? 'the object ends inside its header' : `unknown encryption format version ${version} (1 and 2 exist)`),
    );
    return false;
  }
  if (version === VERSION_V2) {
    try {
      plaintextSize(s.size);
    } catch (e) {
      out.push(problem(key, 'truncated', (e as Error).message));
      ok = false;
    }
  } else if (s.size < HEADER_SIZE + 16) {
    out.push(problem(key, 'truncated', `${s.size} bytes: too short for a version 1 object`));
    ok = false;
  }
  if (s.preambles > 1) {
    out.push(
      problem(key, 'not-encrypted', `the "encrypt" preamble occurs ${s.preambles} times: ciphertext is random, so this is framing around plaintext or objects concatenated`),
    );
  }
  if (sst) out.push(problem(key, 'not-encrypted', `the object ends with the ${sst[0]} table footer magic: a plaintext SST behind an "encrypt" header`));
  if (s.chiSquare !== undefined && s.chiSquare > CHI_SQUARE_LIMIT) {
    out.push(
      problem(
        key,
        'not-encrypted',
        `the body's bytes are not uniformly distributed (chi-square ${Math.round(s.chiSquare)} over 256 values; a cipher gives about 255, the limit is ${CHI_SQUARE_LIMIT}): it holds plaintext`,
      ),
    );
  }
  return ok;
}

async function chunk0(store: ObjectStore, key: string, size: number, dataKey: Buffer): Promise<'opened' | 'refused'> {
  const reader = new ChunkedReader({ size, read: (a, b) => store.readRange(key, a, b) }, dataKey);
  try {
    const n = await reader.open();
    await reader.read(0, Math.min(n, CHUNK_SIZE));
    return 'opened';
  } catch (e) {
    // Any format error (authentication, truncation) means the key did not open it.
    if (e instanceof FormatError) return 'refused';
    throw e;
  }
}

function checkCleartext(key: string, role: ObjectRole, s: Scan, out: Problem[]): void {
  const leak = (detail: string) => out.push(problem(key, 'secret-exposed', detail));
  if (!s.bytes) {
    if (role !== 'index') leak(`${s.size} bytes: far larger than any cleartext-by-design object; its content cannot be shown to hold no secret`);
    return;
  }
  const b = s.bytes;
  switch (role) {
    case 'encryption-info': {
      let info: EncryptionInfo;
      try {
        info = decodeEncryptionInfo(b);
      } catch (e) {
        leak(`does not decode as an EncryptionInfo (${(e as Error).message}): it cannot be shown to hold only salts and wrapped keys`);
        return;
      }
      const again = encodeEncryptionInfo(info);
      if (!again.equals(b)) {
        leak(`holds ${b.length - again.length >= 0 ? b.length - again.length : 'other'} bytes beyond the scheme, salt and wrapped keys (unknown fields or trailing data)`);
      }
      if (info.salt && info.salt.length !== 16) leak(`the salt is ${info.salt.length} bytes; a PBKDF2 salt is 16`);
      for (const e of info.kmsEntries) {
        if (e.keyHash.length !== 32) leak(`an entry's map key is ${e.keyHash.length} bytes; it must be the 32-byte SHA-256 of a key ID`);
        if (e.encryptedDataKey.length <= 32) {
          leak(`the entry ${e.keyHash.toString('hex').slice(0, 16)}… holds only ${e.encryptedDataKey.length} bytes: too short to be a wrapped key (wrapping adds a nonce and a tag), it may be a raw key`);
        }
      }
      return;
    }
    case 'latest':
      if (!LATEST_RE.test(b.toString('latin1'))) leak(`a LATEST pointer must hold only a backup path like /2025/11/20-101500.00; this one holds ${b.length} bytes of something else`);
      return;
    case 'lock':
      if (!/^(lock)?\n?$/.test(b.toString('latin1'))) leak(`a BACKUP-LOCK file holds "lock"; this one holds ${b.length} bytes of something else`);
      return;
    case 'checksum':
      if (b.length !== 4) leak(`a -CHECKSUM object holds 4 bytes; this one holds ${b.length}`);
      return;
    case 'store-key':
      try {
        decodeStoreKeyObject(b, key);
      } catch (e) {
        leak(`does not decode as a store-key object (${(e as Error).message}): its content cannot be shown to hold no key material`);
      }
      return;
    case 'marker': {
      try {
        const m = JSON.parse(b.toString('utf8')) as Record<string, unknown>;
        const extra = Object.keys(m).filter((k) => !MARKER_FIELDS.has(k));
        if (extra.length) leak(`the in-progress marker has unexpected fields: ${extra.join(', ')}`);
      } catch {
        leak('the in-progress marker is not the JSON this tool writes');
      }
      return;
    }
    default:
      return; // metadata/index: not parsed; only searched for known key bytes
  }
}

