/**
 * Every command on every store (issue 4): the shared CockroachDB-made collections are uploaded (read in
 * place) into one s3rver and one in-repo GCS emulator, and the built CLI is run against s3://, gs:// and
 * the local path. verify / inspect give the same answers everywhere; decrypt / encrypt / reencrypt work
 * between any two stores and their results verify and decrypt byte for byte to EXPECTED.json's SHA-256s;
 * rewrap and audit work on an S3 collection; faults injected by a proxy in front of s3rver are retried
 * (exit 0) or, when permanent, exit 4 naming the object, and a destination that fails mid-write is never
 * marked complete; missing buckets / prefixes and refused credentials exit 4 with the reason.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { runCli, type CliResult } from '../helpers/cli';
import { describeShared, expected, SHARED, testdata } from '../helpers/shared';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver';
import { startGcsEmulator, type GcsEmulator } from '../emulators/gcs-server';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy';
import { openStore } from '../../src/storage/index';
import type { ObjectStore } from '../../src/storage/object-store';
import { listFiles as files } from '../helpers/tree';
import { INCOMPLETE_MARKER as MARKER } from '../../src/engines/markers';

jest.setTimeout(180_000);

const COLLECTIONS = ['passphrase', 'kms', 'corrupt'] as const;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let tmp: string;
let s3: S3rverHandle;
let gcs: GcsEmulator;
let proxy: FaultProxy;
let kms: ChildProcess | undefined;
let kmsPort = '';
let passFile: string;
let pass2File: string;
let pass3File: string;

async function keysOf(store: ObjectStore, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list(prefix)) out.push(o.key);
  return out.sort();
}

const s3Uri = (prefix: string, o?: Parameters<S3rverHandle['uriFor']>[1]) => s3.uriFor(prefix, o);
const gsUri = (prefix: string, params?: Record<string, string>) => gcs.uriFor(prefix, params);
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { env: { ...gcs.env, ...env }, timeoutMs: 170_000 });

function json(r: CliResult): any {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

/** A result document without what legitimately differs between stores (the target's name, timings). */
function normalized(doc: unknown): unknown {
  if (Array.isArray(doc)) return doc.map(normalized);
  if (doc && typeof doc === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(doc)) {
      if (['target', 'durationMs', 'startedAt', 'finishedAt', 'ms', 'seconds'].includes(k)) continue;
      out[k] = normalized(v);
    }
    return out;
  }
  return doc;
}

const problemSet = (j: any) =>
  (j.problems as { path: string; kind: string; severity: string }[]).map((p) => `${p.path} ${p.kind} ${p.severity}`).sort();

const fakeKmsUri = (id: string) =>
  `aws-kms:///${id}?REGION=us-east-1&AUTH=specified&AWS_ACCESS_KEY_ID=AKIAEXAMPLE&AWS_SECRET_ACCESS_KEY=fake-kms-secret-77&AWS_ENDPOINT=http://127.0.0.1:${kmsPort}`;

/** Checks a locally decrypted copy of `name` against EXPECTED.json. */
function expectDecrypted(dst: string, name: 'passphrase' | 'kms'): void {
  const want = expected().collections[name].files as Record<string, { plaintext_sha256?: string; manifest_sha256_plain_proto?: string }>;
  for (const [rel, e] of Object.entries(want)) {
    const bytes = fs.readFileSync(path.join(dst, rel));
    if (e.plaintext_sha256) expect([rel, sha(bytes)]).toEqual([rel, e.plaintext_sha256]);
    else expect([rel, sha(gunzipSync(bytes))]).toEqual([rel, e.manifest_sha256_plain_proto]);
  }
  const got = files(dst);
  expect(got).not.toContain(MARKER);
  expect(got.filter((f) => /ENCRYPTION-INFO/.test(f))).toEqual([]);
  for (const f of got) expect([f, fs.readFileSync(path.join(dst, f)).subarray(0, 7).toString('latin1')]).not.toEqual([f, 'encrypt']);
}

describeShared('every command on every store (s3rver, GCS emulator, local)', () => {
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crdb-cmek-xstore-'));
    passFile = path.join(tmp, 'pass.txt');
    fs.writeFileSync(passFile, `${expected().collections.passphrase.passphrase}\n`);
    pass2File = path.join(tmp, 'pass2.txt');
    fs.writeFileSync(pass2File, 'second passphrase for the cross-store run\n');
    pass3File = path.join(tmp, 'pass3.txt');
    fs.writeFileSync(pass3File, 'third passphrase for the cross-store run\n');
    [s3, gcs] = await Promise.all([startS3rver(), startGcsEmulator()]);
    proxy = await startFaultProxy(s3.endpoint);
    // Upload the three shared collections, read in place, through the product's stores.
    for (const name of COLLECTIONS) {
      const root = testdata('collections', name);
      const s3Store = await openStore(s3Uri(`src/${name}`));
      const gsStore = await openStore(gsUri(`src/${name}`), { env: gcs.env });
      for (const rel of files(root)) {
        const bytes = fs.readFileSync(path.join(root, rel));
        await s3Store.write(rel, bytes);
        await gsStore.write(rel, bytes);
      }
      await s3Store.close?.();
      await gsStore.close?.();
    }
    const portFile = path.join(tmp, 'kms-port');
    kms = spawn(process.execPath, [path.join(SHARED, 'tools', 'fake-aws-kms.js'), testdata('collections', 'kms-keys.json'), portFile], { stdio: 'ignore' });
    for (let i = 0; i < 200 && !fs.existsSync(portFile); i++) await new Promise((r) => setTimeout(r, 25));
    kmsPort = fs.readFileSync(portFile, 'utf8').trim();
  });

  afterAll(async () => {
    kms?.kill();
    await proxy?.stop();
    await s3?.stop();
    await gcs?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  afterEach(() => proxy?.schedule.clear());

  test('the uploads hold exactly the shared files, byte for byte', async () => {
    for (const name of COLLECTIONS) {
      const want = files(testdata('collections', name));
      const s3Store = await openStore(s3Uri(`src/${name}`));
      const gsStore = await openStore(gsUri(`src/${name}`), { env: gcs.env });
      expect(await keysOf(s3Store)).toEqual(want);
      expect(await keysOf(gsStore)).toEqual(want);
      const one = want.find((f) => f.endsWith('BACKUP_MANIFEST')) as string;
      const local = fs.readFileSync(testdata('collections', name, one));
      expect((await s3Store.read(one)).equals(local)).toBe(true);
      expect((await gsStore.read(one)).equals(local)).toBe(true);
    }
  });

  describe('verify and inspect give the same results on s3://, gs:// and the local path', () => {
    const where = (name: string) => [testdata('collections', name), s3Uri(`src/${name}`), gsUri(`src/${name}`)];

    test('passphrase collection: ok everywhere, identical documents', async () => {
      const docs = [];
      for (const uri of where('passphrase')) {
        const r = await cli(['backup', 'verify', uri, '--passphrase-file', passFile, '--json']);
        expect({ uri, code: r.code }).toEqual({ uri, code: 0 });
        const j = json(r);
        expect(j.status).toBe('ok');
        expect(j.summary.sstsChecked).toBe(6);
        expect(j.partiallyVerified).toEqual([]);
        docs.push(normalized(j));
      }
      expect(docs[1]).toEqual(docs[0]);
      expect(docs[2]).toEqual(docs[0]);
    });

    test('corrupt collection: exactly the expected problems everywhere', async () => {
      const want = (expected().collections.corrupt.problems as { path: string; kind: string; severity?: string }[])
        .map((p) => `${p.path} ${p.kind} ${p.severity ?? 'error'}`)
        .sort();
      const docs = [];
      for (const uri of where('corrupt')) {
        const r = await cli(['backup', 'verify', uri, '--passphrase-file', passFile, '--json']);
        expect({ uri, code: r.code }).toEqual({ uri, code: 1 });
        const j = json(r);
        expect(problemSet(j)).toEqual(want);
        docs.push(normalized(j));
      }
      expect(docs[1]).toEqual(docs[0]);
      expect(docs[2]).toEqual(docs[0]);
    });

    test('kms collection through the stand-in AWS KMS: every key ID opens it on every store', async () => {
      const ids = Object.keys(expected().collections.kms.kms_keys);
      for (const [i, uri] of where('kms').entries()) {
        const id = ids[i % ids.length];
        const r = await cli(['backup', 'verify', uri, '--kms', fakeKmsUri(id), '--json']);
        expect({ uri, code: r.code, err: r.stderr }).toEqual({ uri, code: 0, err: '' });
        expect(json(r).backups[0].keyVia).toBe(`kms:${id}`);
      }
      const bad = await cli(['backup', 'verify', s3Uri('src/kms'), '--kms', fakeKmsUri('alias/not-in-this-backup')]);
      expect(bad.code).toBe(3);
    });

    test('inspect, without and with a key, is the same document everywhere', async () => {
      for (const name of COLLECTIONS) {
        for (const keyArgs of [[], name === 'kms' ? ['--kms', fakeKmsUri('alias/backup-dr')] : ['--passphrase-file', passFile]]) {
          const docs = [];
          for (const uri of where(name)) {
            const r = await cli(['backup', 'inspect', uri, ...keyArgs, '--json']);
            expect({ uri, code: r.code }).toEqual({ uri, code: 0 });
            const j = json(r);
            expect(j.latest).toBe('2025/11/20-101500.00');
            // s3rver lists keys in the order of its on-disk file names ("ENCRYPTION-INFO-2._S3rver_object"
            // before "ENCRYPTION-INFO._S3rver_object"), unlike S3's byte order: compare the cleartext set.
            j.cleartext.sort((a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : 1));
            docs.push(normalized(j));
          }
          expect(docs[1]).toEqual(docs[0]);
          expect(docs[2]).toEqual(docs[0]);
        }
      }
    });

    test('the target is named by its redacted URI (credentials never shown)', async () => {
      const r = await cli(['backup', 'verify', s3Uri('src/passphrase'), '--passphrase-file', passFile, '--json']);
      const target = json(r).target as string;
      expect(target).toMatch(/^s3:\/\/test-bucket\/src\/passphrase\?/);
      expect(target).toContain('AWS_SECRET_ACCESS_KEY=redacted');
    });
  });

  describe('decrypt / encrypt / reencrypt between any two stores', () => {
    test('s3 -> gs (decrypt) -> s3 (encrypt) -> gs (reencrypt) -> local (decrypt): every hop verifies, the end is byte-identical', async () => {
      const dec = gsUri('hop/decrypted');
      const r1 = await cli(['backup', 'decrypt', s3Uri('src/passphrase'), dec, '--passphrase-file', passFile, '--json']);
      expect({ code: r1.code, err: r1.stderr }).toEqual({ code: 0, err: '' });
      expect(json(r1).destination).toMatch(/^gs:\/\/test-bucket\/hop\/decrypted/);
      const v1 = await cli(['backup', 'verify', dec, '--json']);
      expect(v1.code).toBe(0);
      expect(json(v1).backups[0].keyVia).toMatch(/unencrypted/);

      const enc = s3Uri('hop/encrypted');
      const r2 = await cli(['backup', 'encrypt', dec, enc, '--passphrase-file', pass2File]);
      expect({ code: r2.code, err: r2.stderr }).toEqual({ code: 0, err: '' });
      const v2 = await cli(['backup', 'verify', enc, '--passphrase-file', pass2File, '--json']);
      expect(v2.code).toBe(0);
      expect(json(v2).summary.sstsChecked).toBe(6);
      // The old passphrase does not open the newly encrypted copy.
      expect((await cli(['backup', 'verify', enc, '--passphrase-file', passFile])).code).toBe(3);

      const re = gsUri('hop/reencrypted');
      const r3 = await cli(['backup', 'reencrypt', enc, re, '--passphrase-file', pass2File, '--to-passphrase-file', pass3File]);
      expect({ code: r3.code, err: r3.stderr }).toEqual({ code: 0, err: '' });
      const v3 = await cli(['backup', 'verify', re, '--passphrase-file', pass3File, '--json']);
      expect(v3.code).toBe(0);
      expect(json(v3).status).toBe('ok');

      const local = path.join(tmp, 'hop-local');
      const r4 = await cli(['backup', 'decrypt', re, local, '--passphrase-file', pass3File]);
      expect({ code: r4.code, err: r4.stderr }).toEqual({ code: 0, err: '' });
      expectDecrypted(local, 'passphrase');
    });

    test('gs -> s3 decrypt, local -> gs encrypt, gs -> local decrypt', async () => {
      const dec = s3Uri('gs2s3/decrypted');
      const r1 = await cli(['backup', 'decrypt', gsUri('src/passphrase'), dec, '--passphrase-file', passFile]);
      expect({ code: r1.code, err: r1.stderr }).toEqual({ code: 0, err: '' });
      expect((await cli(['backup', 'verify', dec])).code).toBe(0);
      // The decrypted S3 copy equals the expected plaintext too.
      const s3Store = await openStore(dec);
      for (const [rel, e] of Object.entries(expected().collections.passphrase.files as Record<string, { plaintext_sha256?: string }>)) {
        if (e.plaintext_sha256) expect([rel, sha(await s3Store.read(rel))]).toEqual([rel, e.plaintext_sha256]);
      }
      expect(await keysOf(s3Store)).not.toContain(MARKER);

      const clear = path.join(tmp, 'gs2s3-clear');
      expect((await cli(['backup', 'decrypt', testdata('collections', 'passphrase'), clear, '--passphrase-file', passFile])).code).toBe(0);
      const enc = gsUri('local2gs/encrypted');
      const r2 = await cli(['backup', 'encrypt', clear, enc, '--passphrase-file', pass2File]);
      expect({ code: r2.code, err: r2.stderr }).toEqual({ code: 0, err: '' });
      expect((await cli(['backup', 'verify', enc, '--passphrase-file', pass2File])).code).toBe(0);
      const back = path.join(tmp, 'gs-back');
      expect((await cli(['backup', 'decrypt', enc, back, '--passphrase-file', pass2File])).code).toBe(0);
      expectDecrypted(back, 'passphrase');
    });

    test('kms collection: s3 -> local decrypt and gs -> s3 reencrypt to a passphrase', async () => {
      const local = path.join(tmp, 'kms-from-s3');
      const r1 = await cli(['backup', 'decrypt', s3Uri('src/kms'), local, '--kms', fakeKmsUri('arn:aws:kms:us-east-1:111122223333:key/aaaa-1')]);
      expect({ code: r1.code, err: r1.stderr }).toEqual({ code: 0, err: '' });
      expectDecrypted(local, 'kms');

      const re = s3Uri('kms/reencrypted');
      const r2 = await cli(['backup', 'reencrypt', gsUri('src/kms'), re, '--kms', fakeKmsUri('alias/backup-dr'), '--to-passphrase-file', pass2File]);
      expect({ code: r2.code, err: r2.stderr }).toEqual({ code: 0, err: '' });
      expect((await cli(['backup', 'verify', re, '--passphrase-file', pass2File])).code).toBe(0);
      const back = path.join(tmp, 'kms-re-back');
      expect((await cli(['backup', 'decrypt', re, back, '--passphrase-file', pass2File])).code).toBe(0);
      expectDecrypted(back, 'kms');
    });
  });

  describe('rewrap and audit on an S3 collection', () => {
    test('rewrap --add-kms on S3: the new KMS key opens it, the passphrase still does', async () => {
      const root = testdata('collections', 'passphrase');
      const uri = s3Uri('rewrap/passphrase');
      const st = await openStore(uri);
      for (const rel of files(root)) await st.write(rel, fs.readFileSync(path.join(root, rel)));
      const id = 'alias/backup-dr';
      // Before: the KMS key is not in this backup.
      expect((await cli(['backup', 'verify', uri, '--kms', fakeKmsUri(id)])).code).toBe(3);
      const r = await cli(['backup', 'rewrap', uri, '--passphrase-file', passFile, '--add-kms', fakeKmsUri(id), '--json']);
      expect({ code: r.code, err: r.stderr }).toEqual({ code: 0, err: '' });
      const added = (await keysOf(st)).filter((k) => /ENCRYPTION-INFO-\d+$/.test(k));
      expect(added).toHaveLength(1);
      const v = await cli(['backup', 'verify', uri, '--kms', fakeKmsUri(id), '--json']);
      expect(v.code).toBe(0);
      expect(json(v).backups[0].keyVia).toBe(`kms:${id}`);
      expect((await cli(['backup', 'verify', uri, '--passphrase-file', passFile])).code).toBe(0);
    });

    test('audit on S3: clean, one SHA-256 per object equal to the local file, report written', async () => {
      const report = path.join(tmp, 'audit-s3.json');
      const r = await cli(['backup', 'audit', s3Uri('src/passphrase'), '--passphrase-file', passFile, '--json', '--report', report]);
      expect({ code: r.code, err: r.stderr }).toEqual({ code: 0, err: '' });
      const j = json(r);
      expect(j.status).toBe('ok');
      const root = testdata('collections', 'passphrase');
      const want = files(root).map((f) => [f, sha(fs.readFileSync(path.join(root, f)))]);
      expect(j.objects.map((o: { path: string; sha256: string }) => [o.path, o.sha256])).toEqual(want);
      expect(JSON.parse(fs.readFileSync(report, 'utf8')).status).toBe('ok');
      // The corrupt collection on S3 has findings.
      const bad = await cli(['backup', 'audit', s3Uri('src/corrupt'), '--passphrase-file', passFile, '--json']);
      expect(bad.code).toBe(1);
      expect(json(bad).problems.map((p: { path: string }) => p.path)).toContain('2025/11/20-101500.00/data/1003.sst');
    });
  });

  describe('fault injection through a proxy in front of s3rver', () => {
    const viaProxy = (prefix: string) => s3Uri(prefix, { endpoint: proxy.endpoint });
    const isGetOf = (name: string) => (req: { method?: string; url?: string }) => req.method === 'GET' && (req.url ?? '').includes(name);
    const isPutOf = (name: string) => (req: { method?: string; url?: string }) => req.method === 'PUT' && (req.url ?? '').includes(name);

    test('503 / SlowDown / reset on a schedule: verify and decrypt succeed through retries', async () => {
      proxy.inject('slowdown', 503, 'reset', 'pass', 'slowdown', 'reset', 'pass', 503);
      proxy.injectWhen(isGetOf('1002.sst'), 'slowdown', 'reset');
      const before = proxy.schedule.seen.length;
      const r = await cli(['backup', 'verify', viaProxy('src/passphrase'), '--passphrase-file', passFile, '--json']);
      expect({ code: r.code, err: r.stderr }).toEqual({ code: 0, err: '' });
      expect(json(r).status).toBe('ok');
      expect(proxy.pending()).toBe(0);
      const faulted = proxy.schedule.seen.slice(before).filter((s) => s.fault !== undefined && s.fault !== 'pass');
      expect(faulted.length).toBe(8);

      // Faults on both the source reads and the destination writes of a decrypt (S3 -> S3 via the proxy).
      const dst = viaProxy('faulty-ok/decrypted');
      proxy.inject(503, 'reset');
      proxy.injectWhen((req) => req.method === 'PUT', 'slowdown', 503, 'reset');
      proxy.injectWhen(isGetOf('2001.sst'), 'reset', 'slowdown');
      const d = await cli(['backup', 'decrypt', viaProxy('src/passphrase'), dst, '--passphrase-file', passFile]);
      expect({ code: d.code, err: d.stderr }).toEqual({ code: 0, err: '' });
      expect(proxy.pending()).toBe(0);
      const st = await openStore(s3Uri('faulty-ok/decrypted'));
      for (const [rel, e] of Object.entries(expected().collections.passphrase.files as Record<string, { plaintext_sha256?: string }>)) {
        if (e.plaintext_sha256) expect([rel, sha(await st.read(rel))]).toEqual([rel, e.plaintext_sha256]);
      }
      expect((await cli(['backup', 'verify', s3Uri('faulty-ok/decrypted')])).code).toBe(0);
    });

    test('a permanent failure exits 4 naming the object and the service reason', async () => {
      const victim = '2025/11/20-101500.00/data/1004.sst';
      proxy.injectWhen(isGetOf('1004.sst'), ...Array(60).fill('slowdown'));
      const r = await cli(['backup', 'verify', viaProxy('src/passphrase'), '--passphrase-file', passFile]);
      expect(r.code).toBe(4);
      expect(r.stderr).toContain(victim);
      expect(r.stderr).toMatch(/SlowDown/);
      expect(r.stderr).toMatch(/gave up after \d+ attempts|retry budget/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });

    test('a decrypt into a failing destination leaves it not marked complete (verify says so, exit != 0)', async () => {
      const prefix = 'faulty-dst/decrypted';
      proxy.injectWhen(isPutOf('1003.sst'), ...Array(60).fill(503));
      const r = await cli(['backup', 'decrypt', testdata('collections', 'passphrase'), viaProxy(prefix), '--passphrase-file', passFile, '--concurrency', '1']);
      expect(r.code).toBe(4);
      expect(r.stderr).toContain('1003.sst');
      const st = await openStore(s3Uri(prefix));
      const keys = await keysOf(st);
      expect(keys).not.toContain('2025/11/20-101500.00/data/1003.sst');
      expect(keys.filter((k) => k.startsWith('metadata/latest/'))).toEqual([]);
      // The marker went first and stays: the destination names itself incomplete.
      expect(keys).toContain(MARKER);
      const v = await cli(['backup', 'verify', s3Uri(prefix), '--json']);
      expect(v.code).toBe(1);
      expect(json(v).problems).toEqual(expect.arrayContaining([expect.objectContaining({ path: MARKER, kind: 'incomplete' })]));
    });
  });

  describe('storage errors exit 4 with the reason', () => {
    test('a bucket that does not exist (S3 and GCS)', async () => {
      const a = await cli(['backup', 'verify', s3Uri('src/passphrase', { bucket: 'no-such-bucket' }), '--passphrase-file', passFile]);
      expect(a.code).toBe(4);
      expect(a.stderr).toMatch(/NoSuchBucket|not found/i);
      const b = await cli(['backup', 'verify', gcs.uriFor('src/passphrase').replace('gs://test-bucket/', 'gs://no-such-bucket/'), '--passphrase-file', passFile]);
      expect(b.code).toBe(4);
      expect(b.stderr).toMatch(/not found/i);
      const c = await cli(['backup', 'inspect', s3Uri('x', { bucket: 'no-such-bucket' })]);
      expect(c.code).toBe(4);
    });

    test('a prefix with nothing under it (S3 and GCS)', async () => {
      for (const uri of [s3Uri('no/such/prefix'), gsUri('no/such/prefix')]) {
        const r = await cli(['backup', 'verify', uri, '--passphrase-file', passFile]);
        expect({ uri, code: r.code }).toEqual({ uri, code: 4 });
        expect(r.stderr).toMatch(/no\/such\/prefix/);
      }
    });

    test('wrong credentials: access denied, exit 4, with the service reason and no secret', async () => {
      const uri = s3Uri('src/passphrase', { params: { AWS_ACCESS_KEY_ID: 'AKIAWRONGKEY0001', AWS_SECRET_ACCESS_KEY: 'wrong-secret-value-42' } });
      const r = await cli(['backup', 'verify', uri, '--passphrase-file', passFile]);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/access denied/i);
      expect(r.stderr).toMatch(/InvalidAccessKeyId/);
      expect(r.stdout + r.stderr).not.toContain('wrong-secret-value-42');
      expect(r.stdout + r.stderr).not.toContain('AKIAWRONGKEY0001');
      const d = await cli(['backup', 'decrypt', testdata('collections', 'passphrase'), uri, '--passphrase-file', passFile]);
      expect(d.code).toBe(4);
      expect(d.stderr).toMatch(/access denied/i);
    });
  });
});
