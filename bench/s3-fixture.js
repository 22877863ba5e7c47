/**
 * Bench support for the `s3-verify` case: an s3rver child process (started the way
 * test/helpers/s3rver.ts starts it) and a generator that writes an encrypted CockroachDB-layout
 * collection of a given size into a store through the built product (dist/).
 *
 *   const s3 = await startS3rver();                     // { endpoint, uriFor(prefix), stop() }
 *   node bench/s3-fixture.js generate <uri> <bytes> <objects>   // prints {"objects":N,"bytes":N,...}
 *
 * s3rver runs in its own process with --openssl-legacy-provider (its listing continuation tokens use
 * DES, which Node 20's OpenSSL 3 refuses otherwise) and exits when its stdin closes. Credentials are
 * S3RVER / S3RVER. The generator runs in its own process too, so the measuring process's peak RSS is
 * that of verify / download alone.
 *
 * The collection: one full backup, passphrase-encrypted (PASSPHRASE below), `objects` data SSTs of
 * about bytes/objects each (RocksDB v2 tables from the project's SST writer; 4000-byte random values,
 * so nothing compresses), BACKUP_MANIFEST (gzip + encrypted) listing them with its -CHECKSUM,
 * ENCRYPTION-INFO, BACKUP-LOCK and LATEST.
 */
'use strict';
const crypto = require('node:crypto');
const path = require('node:path');

const DIST = path.resolve(__dirname, '..', 'dist');
const PASSPHRASE = 'crdb-cmek bench passphrase';
const FULL = '2025/11/20-101500.00';

const { spawnS3rver } = require('../test/helpers/s3rver-process');

/** Starts s3rver on 127.0.0.1 and a random port, storing into a fresh temporary directory. */
async function startS3rver(opts = {}) {
  const bucket = opts.bucket || 'bench-bucket';
  const server = await spawnS3rver({ buckets: [bucket], prefix: 'crdb-cmek-bench-s3rver-', tmpdir: opts.tmpdir });
  const { child, port, directory } = server;
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    directory,
    pid: child.pid,
    uriFor(prefix = '') {
      const q = new URLSearchParams({ AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_ENDPOINT: endpoint, AWS_REGION: 'us-east-1' });
      return `s3://${bucket}/${prefix.replace(/^\/+/, '')}?${q}`;
    },
    stop: () => server.stop(),
  };
}

/** A row key like CockroachDB's /Table/<id>/1/<row>/0 (ascending uvarints). */
function rowKey(table, row) {
  const uv = (v) => {
    if (v <= 109) return Buffer.from([0x88 + v]);
    const bytes = [];
    for (let x = v; x > 0; x = Math.floor(x / 256)) bytes.unshift(x % 256);
    return Buffer.from([0xf5 + bytes.length, ...bytes]);
  };
  return Buffer.concat([uv(table), uv(1), uv(row), uv(0)]);
}

/** Writes the bench collection into the store at `uri`; returns what was written. */
async function generate(uri, bytes, objects) {
  const { openStore } = require(path.join(DIST, 'storage', 'index.js'));
  const { buildSst } = require(path.join(DIST, 'backup', 'sst-writer.js'));
  const { emptyManifest, encodeManifest, writeManifestBytes, dateToHlc } = require(path.join(DIST, 'backup', 'manifest.js'));
  const { latestContent, latestObjectName } = require(path.join(DIST, 'backup', 'latest.js'));
  const { encryptBuffer } = require(path.join(DIST, 'format', 'chunked.js'));
  const { encodeEncryptionInfo, passphraseEncryptionInfo } = require(path.join(DIST, 'keys', 'encryption-info.js'));
  const { deriveKeyFromPassphrase, generateSalt } = require(path.join(DIST, 'keys', 'passphrase.js'));

  const store = await openStore(uri);
  const salt = generateSalt();
  const key = await deriveKeyFromPassphrase(PASSPHRASE, salt);
  const VALUE = 4000;
  const rowsPer = Math.max(1, Math.round(bytes / objects / (VALUE + 16)));
  const m = emptyManifest();
  m.endTime = dateToHlc(new Date(Date.UTC(2025, 10, 20, 10, 15, 0)));
  m.formatVersion = 1;
  let stored = 0;
  let plain = 0;
  await store.write(`${FULL}/ENCRYPTION-INFO`, encodeEncryptionInfo(passphraseEncryptionInfo(salt)));
  await store.write(`${FULL}/BACKUP-LOCK-1`, Buffer.from('lock'));
  const table = 104;
  for (let i = 0; i < objects; i++) {
    const from = i * rowsPer;
    const entries = [];
    for (let r = from; r < from + rowsPer; r++) entries.push({ key: rowKey(table, r), value: crypto.randomBytes(VALUE) });
    const sst = buildSst(entries);
    entries.length = 0;
    const rel = `data/${1001 + i}.sst`;
    const ct = encryptBuffer(key, sst);
    await store.write(`${FULL}/${rel}`, ct);
    stored += ct.length;
    plain += sst.length;
    const span = { key: rowKey(table, from), endKey: rowKey(table, from + rowsPer) };
    m.files.push({
      span,
      path: rel,
      entryCounts: { dataSize: rowsPer * (VALUE + 4), rows: rowsPer, indexEntries: 0 },
      localityKv: '',
      backingFileSize: sst.length,
      approximatePhysicalSize: sst.length,
      hasRangeKeys: false,
    });
    m.spans.push(span);
    m.entryCounts.rows += rowsPer;
  }
  const { manifest, checksum } = await writeManifestBytes(encodeManifest(m), (b) => encryptBuffer(key, b));
  await store.write(`${FULL}/BACKUP_MANIFEST`, manifest);
  await store.write(`${FULL}/BACKUP_MANIFEST-CHECKSUM`, checksum);
  await store.write(latestObjectName(new Date(Date.UTC(2025, 10, 20, 10, 16, 0))), Buffer.from(latestContent(FULL)));
  await store.close?.();
  return { objects: objects + 6, dataObjects: objects, storedDataBytes: stored, plaintextDataBytes: plain };
}

module.exports = { startS3rver, generate, PASSPHRASE };

if (require.main === module) {
  const [cmd, uri, bytes, objects] = process.argv.slice(2);
  if (cmd !== 'generate' || !uri) {
    process.stderr.write('usage: node bench/s3-fixture.js generate <s3-uri> <bytes> <objects>\n');
    process.exit(2);
  }
  generate(uri, Number(bytes), Number(objects || 8)).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (e) => {
      process.stderr.write(`generate: ${e && e.stack ? e.stack : e}\n`);
      process.exit(1);
    },
  );
}
