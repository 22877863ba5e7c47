/**
 * `backup reencrypt SRC DST` through the built CLI: passphrase -> new passphrase / -> AWS KMS (emulator)
 * / -> CMEK (file CMEK from `keys generate`) and back from the CMEK; SRC byte-identical before and after;
 * DST verifies under the new key only and decrypts to the same plaintext. Interrupted runs: the child is
 * killed at several points (CRDB_CMEK_TEST_SLOW_MS makes the engine pause after every write to DST,
 * ENCRYPTION-INFO and -CHECKSUM files included, so the points are reachable), then `backup verify DST`
 * reports `incomplete` (exit 1), `--resume` finishes, the result verifies, and objects written before the
 * kill keep their bytes and their mtimes. Expectations come from what DST held after the child exited, not
 * from what the poll saw.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { start, type AwsKmsEmulator } from '../emulators/aws-kms-server';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver';
import { BIN, ROOT, runCli } from '../helpers/cli';
import { describeShared, testdata } from '../helpers/shared';
import { hashTree, listFiles as files } from '../helpers/tree';
import { INCOMPLETE_MARKER as MARKER } from '../../src/engines/markers';

const FULL = '2025/11/20-101500.00';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const AKID = 'AKIAEMULATOR0001';
const KMS_KEY = 'alias/reencrypt-target';

let dir: string;
let kms: AwsKmsEmulator;
let SRC: string;
let srcBefore: Record<string, string>;
let plainRef: Record<string, string>;
const p = (...xs: string[]) => path.join(dir, ...xs);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** SHA-256 of every file under root, by relative path. */
const hashes = (root: string): Record<string, string> => Object.fromEntries(hashTree(root));

function kmsUri(key: string): string {
  return `aws-kms:///${key}?REGION=us-east-1&AWS_ENDPOINT=${encodeURIComponent(kms.endpoint)}&AWS_ACCESS_KEY_ID=${AKID}&AWS_SECRET_ACCESS_KEY=${encodeURIComponent(SECRET)}`;
}

/** Decrypts `enc` with `keyArgs` and returns the hashes of the plaintext collection. */
async function plaintextOf(enc: string, keyArgs: string[], name: string): Promise<Record<string, string>> {
  const out = p(`plain-${name}`);
  const r = await runCli(['backup', 'decrypt', enc, out, ...keyArgs]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return hashes(out);
}

async function expectVerifies(dst: string, keyArgs: string[]): Promise<void> {
  const v = await runCli(['backup', 'verify', dst, ...keyArgs, '--json']);
  const doc = JSON.parse(v.stdout);
  expect(doc.problems.filter((x: { severity: string }) => x.severity === 'error')).toEqual([]);
  expect(doc.status).toBe('ok');
  expect(v.code).toBe(0);
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crdb-cmek-reencrypt-'));
  fs.writeFileSync(p('old.txt'), 'collection pass 1\n');
  fs.writeFileSync(p('new.txt'), 'the rotated passphrase\n');
  fs.writeFileSync(p('other.txt'), 'yet another passphrase\n');
  kms = await start();
  kms.createKey(KMS_KEY);
});
afterAll(async () => {
  await kms.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describeShared('backup reencrypt', () => {
  beforeAll(async () => {
    SRC = testdata('collections', 'passphrase');
    srcBefore = hashes(SRC);
    plainRef = await plaintextOf(SRC, ['--passphrase-file', p('old.txt')], 'ref');
  });
  afterAll(() => {
    // SRC is only ever read.
    expect(hashes(SRC)).toEqual(srcBefore);
  });

  test('passphrase -> new passphrase: DST verifies under the new key only, same plaintext, SRC untouched', async () => {
    const dst = p('to-pass');
    const r = await runCli(['backup', 'reencrypt', SRC, dst, '--passphrase-file', p('old.txt'), '--to-passphrase-file', p('new.txt'), '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.keyScheme).toEqual({ source: 'passphrase', target: 'passphrase' });
    expect(doc.objects.dropped).toBe(1);
    expect(hashes(SRC)).toEqual(srcBefore);
    // Every data object is new ciphertext (new key, new IVs).
    const out = hashes(dst);
    for (const f of Object.keys(srcBefore).filter((k) => k.endsWith('.sst'))) expect([f, out[f] === srcBefore[f]]).toEqual([f, false]);
    expect(files(dst)).not.toContain(MARKER);
    await expectVerifies(dst, ['--passphrase-file', p('new.txt')]);
    expect((await runCli(['backup', 'verify', dst, '--passphrase-file', p('old.txt')])).code).toBe(3);
    expect(await plaintextOf(dst, ['--passphrase-file', p('new.txt')], 'to-pass')).toEqual(plainRef);
  });

  test('passphrase -> AWS KMS (emulator)', async () => {
    const dst = p('to-kms');
    const r = await runCli(['backup', 'reencrypt', SRC, dst, '--passphrase-file', p('old.txt'), '--to-kms', kmsUri(KMS_KEY)]);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    await expectVerifies(dst, ['--kms', kmsUri(KMS_KEY)]);
    expect(await plaintextOf(dst, ['--kms', kmsUri(KMS_KEY)], 'to-kms')).toEqual(plainRef);
  });

  test('passphrase -> CMEK (file CMEK from keys generate), and CMEK -> passphrase', async () => {
    const cmek = p('cmek.key');
    expect((await runCli(['keys', 'generate', cmek, '--size', '192'])).code).toBe(0);
    const dst = p('to-cmek');
    const r = await runCli(['backup', 'reencrypt', SRC, dst, '--passphrase-file', p('old.txt'), '--to-cmek', `file://${cmek}`, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).keyScheme.target).toMatch(/^cmek file:/);
    expect(files(dst)).toContain('crdb-cmek/STORE-KEY');
    await expectVerifies(dst, ['--cmek', `file://${cmek}`]);

    const dstBefore = hashes(dst);
    const back = p('from-cmek');
    const b = await runCli(['backup', 'reencrypt', dst, back, '--cmek', `file://${cmek}`, '--to-passphrase-file', p('other.txt')]);
    expect(b.code).toBe(0);
    expect(hashes(dst)).toEqual(dstBefore);
    expect(files(back)).not.toContain('crdb-cmek/STORE-KEY'); // the source's chain is not carried over
    await expectVerifies(back, ['--passphrase-file', p('other.txt')]);
    expect(await plaintextOf(back, ['--passphrase-file', p('other.txt')], 'from-cmek')).toEqual(plainRef);
  });

  test('any store to any store: local -> S3 (s3rver) -> local, verified on S3, same plaintext', async () => {
    let s3: S3rverHandle | undefined;
    try {
      s3 = await startS3rver();
      const uri = s3.uriFor('rotated/collection');
      const r = await runCli(['backup', 'reencrypt', SRC, uri, '--passphrase-file', p('old.txt'), '--to-passphrase-file', p('new.txt'), '--json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc.destination).not.toContain('S3RVER'); // credentials redacted
      await expectVerifies(uri, ['--passphrase-file', p('new.txt')]);
      const back = p('from-s3');
      const b = await runCli(['backup', 'reencrypt', uri, back, '--passphrase-file', p('new.txt'), '--to-passphrase-file', p('other.txt')]);
      expect(b.code).toBe(0);
      expect(await plaintextOf(back, ['--passphrase-file', p('other.txt')], 'from-s3')).toEqual(plainRef);
    } finally {
      await s3?.stop();
    }
  });

  test('a wrong source passphrase exits 3 with nothing written', async () => {
    const dst = p('wrong-src');
    const r = await runCli(['backup', 'reencrypt', SRC, dst, '--passphrase-file', p('other.txt'), '--to-passphrase-file', p('new.txt')]);
    expect(r.code).toBe(3);
    expect(files(dst)).toEqual([]);
  });

  describe('interrupted and resumed', () => {
    const args = (dst: string, to = 'new.txt') => [
      'backup', 'reencrypt', SRC, dst, '--passphrase-file', p('old.txt'), '--to-passphrase-file', p(to), '--concurrency', '1',
    ];

    /** Runs the reencrypt slowly and kills it (SIGKILL) once `until(files)` holds; returns what DST held then. */
    async function interrupted(dst: string, until: (present: string[]) => boolean): Promise<string[]> {
      const child = spawn(process.execPath, [BIN, ...args(dst)], {
        cwd: ROOT,
        env: { ...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true', CRDB_CMEK_TEST_SLOW_MS: '400' },
        stdio: 'ignore',
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      let done = false;
      void exited.then(() => (done = true));
      const deadline = Date.now() + 60_000;
      while (!done && Date.now() < deadline) {
        const present = files(dst).filter((f) => !f.includes('.crdb-cmek-tmp-'));
        if (until(present)) {
          child.kill('SIGKILL');
          await exited;
          return files(dst);
        }
        await new Promise((r) => setTimeout(r, 15));
      }
      child.kill('SIGKILL');
      throw new Error(`the run ended (or timed out) before the kill point; DST held ${files(dst).join(', ')}`);
    }

    const dataObjects = (fs_: string[]) => fs_.filter((f) => f !== MARKER && !f.includes('ENCRYPTION-INFO'));

    test.each([
      ['right after the key was written', (f: string[]) => f.includes(`${FULL}/ENCRYPTION-INFO`)],
      ['after 3 objects', (f: string[]) => dataObjects(f).length >= 3],
      ['after 8 objects', (f: string[]) => dataObjects(f).length >= 8],
      ['after the first manifest', (f: string[]) => f.some((x) => x.endsWith('BACKUP_MANIFEST'))],
    ])('killed %s: verify says incomplete, --resume finishes without redoing objects', async (name, until) => {
      const dst = p(`killed-${name.replace(/\W+/g, '-')}`);
      const atKill = await interrupted(dst, until);
      expect(atKill).toContain(MARKER);
      // The kill normally lands in the pause after a write. If this process was starved past the pause, it
      // can land inside the next (atomic) write: that leaves only a temporary file, never the object itself.
      const tmp = '.crdb-cmek-tmp-';
      for (const t of atKill.filter((f) => f.includes(tmp))) expect(atKill).not.toContain(t.slice(0, t.indexOf(tmp)));
      const kept = atKill.filter((f) => f !== MARKER && !f.includes(tmp));
      expect(until(kept)).toBe(true);
      const before = Object.fromEntries(
        kept.map((f) => [f, { hash: sha(fs.readFileSync(path.join(dst, f))), mtime: fs.statSync(path.join(dst, f)).mtimeMs }]),
      );

      const v = await runCli(['backup', 'verify', dst, '--passphrase-file', p('new.txt'), '--json']);
      expect(v.code).toBe(1);
      const problems = JSON.parse(v.stdout).problems as { path: string; kind: string }[];
      expect(problems).toContainEqual(expect.objectContaining({ path: MARKER, kind: 'incomplete' }));

      // Without --resume the destination is refused.
      const again = await runCli(args(dst));
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(/--resume/);

      const r = await runCli([...args(dst), '--resume', '--json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc.resumed).toBe(true);
      expect(doc.backups[0].targetKey).toBe('reused');
      const keptObjects = kept.filter((f) => !f.includes('ENCRYPTION-INFO') && !f.endsWith('-CHECKSUM'));
      expect(doc.objects.skipped).toBe(keptObjects.length);
      expect(doc.objects.written + doc.objects.skipped).toBe(doc.objects.total);

      for (const [f, b] of Object.entries(before)) {
        expect([f, sha(fs.readFileSync(path.join(dst, f)))]).toEqual([f, b.hash]);
        expect([f, fs.statSync(path.join(dst, f)).mtimeMs]).toEqual([f, b.mtime]);
      }
      expect(files(dst)).not.toContain(MARKER);
      // Whatever a kill left half-written is swept by the resumed run.
      expect(files(dst).filter((f) => f.includes(tmp))).toEqual([]);
      await expectVerifies(dst, ['--passphrase-file', p('new.txt')]);
      expect(await plaintextOf(dst, ['--passphrase-file', p('new.txt')], `resumed-${name.replace(/\W+/g, '-')}`)).toEqual(plainRef);
    });

    test('resuming with another target key is a key error (exit 3) that leaves DST as it was', async () => {
      const dst = p('killed-other-key');
      await interrupted(dst, (f) => dataObjects(f).length >= 2);
      const before = hashes(dst);
      const r = await runCli([...args(dst, 'other.txt'), '--resume']);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/another target key/);
      expect(r.stderr).toContain(dst);
      expect(hashes(dst)).toEqual(before);
    });
  });
});
