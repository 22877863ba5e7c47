/**
 * backup verify and backup inspect, end to end through the built CLI, on the shared CockroachDB-made
 * collections (read in place) and on collections the project generates.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli, ROOT } from '../helpers/cli';
import { describeShared, expected, testdata, SHARED } from '../helpers/shared';
import { LocalStore } from '../../src/storage/local';
import { writeSampleCollection } from '../../src/sample/sample-collection';
import { INCOMPLETE_MARKER } from '../../src/engines/markers';

const FIXTURE = path.join(ROOT, 'fixtures', 'collection');
const FIXTURE_PASS = path.join(ROOT, 'fixtures', 'passphrase.txt');

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crdb-cmek-verify-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function passFile(name: string, text: string): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
}

async function sampleCopy(name: string): Promise<string> {
  const dir = path.join(tmp, name);
  await writeSampleCollection(new LocalStore(dir), { passphrase: 'crdb-cmek sample passphrase' });
  return dir;
}

describe('backup verify on the project sample', () => {
  test('the bundled fixture verifies ok (exit 0) and --json is one document', async () => {
    const r = await runCli(['backup', 'verify', FIXTURE, '--passphrase-file', FIXTURE_PASS, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.status).toBe('ok');
    expect(j.problems).toEqual([]);
    expect(j.summary.sstsChecked).toBe(4);
    expect(j.summary.manifestsChecked).toBe(2);
  });

  test('the generator is deterministic: a fresh sample equals the committed fixture byte for byte', async () => {
    const dir = await sampleCopy('regen');
    const list = (d: string): string[] =>
      fs.readdirSync(d, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => path.relative(d, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)))
        .sort();
    expect(list(dir)).toEqual(list(FIXTURE));
    for (const f of list(FIXTURE)) expect(fs.readFileSync(path.join(dir, f)).equals(fs.readFileSync(path.join(FIXTURE, f)))).toBe(true);
  });

  test('a flipped byte inside an SST is authentication-failed at the right chunk; exit 1', async () => {
    const dir = await sampleCopy('flip');
    const f = path.join(dir, '2025/11/20-101500.00/data/1002.sst');
    const b = fs.readFileSync(f);
    b[b.length - 40] ^= 0x01;
    fs.writeFileSync(f, b);
    const r = await runCli(['backup', 'verify', dir, '--passphrase-file', FIXTURE_PASS, '--json']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.status).toBe('failed');
    expect(j.problems).toEqual([
      expect.objectContaining({ path: '2025/11/20-101500.00/data/1002.sst', kind: 'authentication-failed', severity: 'error' }),
    ]);
  });

  test('a wrong passphrase is one key-error (exit 3), not a list of failures, and is never echoed', async () => {
    const secret = 'not-the-right-passphrase-4711';
    const r = await runCli(['backup', 'verify', FIXTURE, '--passphrase-file', passFile('wrong.txt', secret), '--json']);
    expect(r.code).toBe(3);
    const j = JSON.parse(r.stdout);
    expect(j.status).toBe('key-error');
    expect(j.error).toMatch(/wrong passphrase or key/);
    expect(j.problems.filter((p: { kind: string }) => p.kind === 'authentication-failed')).toEqual([]);
    expect(r.stdout + r.stderr).not.toContain(secret);
  });

  test('no key at all is a usage error naming the key flags (exit 2)', async () => {
    const r = await runCli(['backup', 'verify', FIXTURE]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/passphrase-file/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  test('an interrupted write (in-progress marker) is reported as incomplete', async () => {
    const dir = await sampleCopy('incomplete');
    fs.writeFileSync(path.join(dir, INCOMPLETE_MARKER), JSON.stringify({ operation: 'decrypt', started: 'now' }));
    const r = await runCli(['backup', 'verify', dir, '--passphrase-file', FIXTURE_PASS, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).problems).toEqual([expect.objectContaining({ path: INCOMPLETE_MARKER, kind: 'incomplete' })]);
  });

  test('--report writes JSON, Markdown and JUnit files with the same verdict', async () => {
    const dir = await sampleCopy('report');
    fs.rmSync(path.join(dir, '2025/11/20-101500.00/data/1003.sst'));
    for (const ext of ['json', 'md', 'xml']) {
      const out = path.join(tmp, `report.${ext}`);
      const r = await runCli(['backup', 'verify', dir, '--passphrase-file', FIXTURE_PASS, '--report', out]);
      expect(r.code).toBe(1);
      const text = fs.readFileSync(out, 'utf8');
      expect(text).toContain('2025/11/20-101500.00/data/1003.sst');
      if (ext === 'json') expect(JSON.parse(text).problems[0].kind).toBe('missing');
      if (ext === 'md') expect(text).toMatch(/\| error \| `missing` \|/);
      if (ext === 'xml') expect(text).toMatch(/<failure type="missing"/);
    }
    const bad = await runCli(['backup', 'verify', dir, '--passphrase-file', FIXTURE_PASS, '--report', path.join(tmp, 'r.txt')]);
    expect(bad.code).toBe(2);
  });

  test('--subset and --sample are reported as spot checks; a bad --subset is exit 2', async () => {
    const a = await runCli(['backup', 'verify', FIXTURE, '--passphrase-file', FIXTURE_PASS, '--subset', '1/2', '--json']);
    const b = await runCli(['backup', 'verify', FIXTURE, '--passphrase-file', FIXTURE_PASS, '--subset', '2/2', '--json']);
    const ja = JSON.parse(a.stdout);
    const jb = JSON.parse(b.stdout);
    expect(ja.summary.coverage).toBe('subset 1/2 of the data SSTs');
    // The two halves partition the data SSTs deterministically.
    expect(ja.summary.sstsChecked + jb.summary.sstsChecked).toBe(4);
    expect(ja.summary.objectsSkipped + jb.summary.objectsSkipped).toBe(4);
    const s = await runCli(['backup', 'verify', FIXTURE, '--passphrase-file', FIXTURE_PASS, '--sample', '100', '--json']);
    expect(JSON.parse(s.stdout).summary.coverage).toBe('random sample of 100% of the data SSTs');
    expect((await runCli(['backup', 'verify', FIXTURE, '--passphrase-file', FIXTURE_PASS, '--subset', '3/2'])).code).toBe(2);
  });

  test('nodelocal:// maps under --nodelocal-root; a missing root is a usage error', async () => {
    const ok = await runCli(['backup', 'verify', 'nodelocal://self/collection', '--nodelocal-root', path.join(ROOT, 'fixtures'), '--passphrase-file', FIXTURE_PASS]);
    expect(ok.code).toBe(0);
    const bad = await runCli(['backup', 'verify', 'nodelocal://1/collection', '--passphrase-file', FIXTURE_PASS], { env: { CRDB_CMEK_NODELOCAL_ROOT: '' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/nodelocal-root/);
  });

  test('23.1+ layout: BACKUP_METADATA with its file list in an encrypted filelist.sst', async () => {
    const dir = path.join(tmp, 'metadata-style');
    await writeSampleCollection(new LocalStore(dir), { passphrase: 'crdb-cmek sample passphrase', style: 'metadata' });
    const ok = await runCli(['backup', 'verify', dir, '--passphrase-file', FIXTURE_PASS, '--json']);
    expect(ok.code).toBe(0);
    // BACKUP_METADATA and BACKUP_MANIFEST of both layers are checked.
    expect(JSON.parse(ok.stdout).summary.manifestsChecked).toBe(4);
    // The file list read from filelist.sst finds a missing data file.
    fs.rmSync(path.join(dir, '2025/11/20-101500.00/data/1002.sst'));
    const bad = await runCli(['backup', 'verify', dir, '--passphrase-file', FIXTURE_PASS, '--json']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).problems).toEqual([
      expect.objectContaining({ path: '2025/11/20-101500.00/data/1002.sst', kind: 'missing' }),
    ]);
    // Without filelist.sst the slim manifest cannot give its list: that is reported by name.
    fs.rmSync(path.join(dir, '2025/11/20-101500.00/filelist.sst'));
    const gone = await runCli(['backup', 'verify', dir, '--passphrase-file', FIXTURE_PASS, '--json']);
    expect(JSON.parse(gone.stdout).problems).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: '2025/11/20-101500.00/filelist.sst', kind: 'missing' })]),
    );
  });

  test('a decrypted (cleartext) backup verifies without a key: manifests, completeness and SSTs', async () => {
    const out = path.join(tmp, 'decrypted');
    const d = await runCli(['backup', 'decrypt', FIXTURE, out, '--passphrase-file', FIXTURE_PASS]);
    expect(d.code).toBe(0);
    const ok = await runCli(['backup', 'verify', out, '--json']);
    expect(ok.code).toBe(0);
    const j = JSON.parse(ok.stdout);
    expect(j.backups[0].keyVia).toMatch(/unencrypted/);
    expect(j.summary.sstsChecked).toBe(4);
    const f = path.join(out, '2025/11/20-101500.00/data/1001.sst');
    const b = fs.readFileSync(f);
    b[10] ^= 0xff; // inside the first data block
    fs.writeFileSync(f, b);
    const bad = await runCli(['backup', 'verify', out, '--json']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).problems).toEqual([
      expect.objectContaining({ path: '2025/11/20-101500.00/data/1001.sst', kind: 'sst-corrupt' }),
    ]);
  });

  test('a missing location is a storage error (exit 4)', async () => {
    const r = await runCli(['backup', 'verify', path.join(tmp, 'no-such-dir'), '--passphrase-file', FIXTURE_PASS]);
    expect(r.code).toBe(4);
  });
});

describeShared('backup verify on the CockroachDB-made shared collections', () => {
  const E = () => expected();

  test('passphrase collection verifies ok', async () => {
    const f = passFile('pass.txt', E().collections.passphrase.passphrase);
    const r = await runCli(['backup', 'verify', testdata('collections', 'passphrase'), '--passphrase-file', f, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.status).toBe('ok');
    expect(j.summary.sstsChecked).toBe(6);
    // Every table, the columnar Pebble v7 one included, was walked completely.
    expect(j.partiallyVerified).toEqual([]);
  });

  test('corrupt collection yields exactly the expected problems', async () => {
    const f = passFile('pass2.txt', E().collections.corrupt.passphrase);
    const r = await runCli(['backup', 'verify', testdata('collections', 'corrupt'), '--passphrase-file', f, '--json']);
    expect(r.code).toBe(1);
    const got = JSON.parse(r.stdout).problems.map((p: { path: string; kind: string; severity: string }) => `${p.path} ${p.kind} ${p.severity}`).sort();
    const want = E()
      .collections.corrupt.problems.map((p: { path: string; kind: string; severity?: string }) => `${p.path} ${p.kind} ${p.severity ?? 'error'}`)
      .sort();
    expect(got).toEqual(want);
  });

  test('with worker threads the verdict and every problem are the same', async () => {
    const f = passFile('pass3.txt', E().collections.corrupt.passphrase);
    const run = async (w: string) => {
      const r = await runCli(['backup', 'verify', testdata('collections', 'corrupt'), '--passphrase-file', f, '--workers', w, '--json']);
      const j = JSON.parse(r.stdout);
      return { code: r.code, workers: j.summary.workers, problems: j.problems, sstsChecked: j.summary.sstsChecked };
    };
    const main = await run('0');
    const threaded = await run('2');
    expect(main.workers).toBe(0);
    expect(threaded.workers).toBe(2);
    expect({ ...threaded, workers: 0 }).toEqual(main);
    // A wrong key is still one key-error when chunk 0 fails on the workers.
    const wrong = await runCli(['backup', 'verify', testdata('collections', 'passphrase'), '--passphrase-env', 'P', '--workers', '2'], { env: { P: 'wrong' } });
    expect(wrong.code).toBe(3);
    expect((await runCli(['backup', 'verify', FIXTURE, '--passphrase-file', FIXTURE_PASS, '--workers', 'many'])).code).toBe(2);
  });

  test('wrong passphrase on the shared collection is a key error', async () => {
    const r = await runCli(['backup', 'verify', testdata('collections', 'passphrase'), '--passphrase-env', 'P'], { env: { P: 'wrong' } });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/KEY ERROR/);
  });

  describe('kms collection through the shared stand-in AWS KMS', () => {
    let kms: ChildProcess;
    let port: string;
    beforeAll(async () => {
      const portFile = path.join(tmp, 'kms-port');
      kms = spawn(process.execPath, [path.join(SHARED, 'tools', 'fake-aws-kms.js'), testdata('collections', 'kms-keys.json'), portFile, 'arn:aws:kms:eu-west-1:111122223333:key/disabled-4'], { stdio: 'ignore' });
      for (let i = 0; i < 100 && !fs.existsSync(portFile); i++) await new Promise((r) => setTimeout(r, 50));
      port = fs.readFileSync(portFile, 'utf8');
    });
    afterAll(() => kms.kill());
    const uri = (id: string) =>
      `aws-kms:///${id}?REGION=us-east-1&AUTH=specified&AWS_ACCESS_KEY_ID=AKIAEXAMPLE&AWS_SECRET_ACCESS_KEY=sekrit-value-123&AWS_ENDPOINT=http://127.0.0.1:${port}`;

    test('each of the three key IDs opens the backup', async () => {
      for (const id of Object.keys(E().collections.kms.kms_keys)) {
        const r = await runCli(['backup', 'verify', testdata('collections', 'kms'), '--kms', uri(id), '--json']);
        expect({ id, code: r.code }).toEqual({ id, code: 0 });
        expect(JSON.parse(r.stdout).backups[0].keyVia).toBe(`kms:${id}`);
        expect(r.stdout + r.stderr).not.toContain('sekrit-value-123');
      }
    });

    test('an unknown key ID is a key error (exit 3) that names it and no secret', async () => {
      const r = await runCli(['backup', 'verify', testdata('collections', 'kms'), '--kms', uri('alias/not-in-this-backup')]);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/no ENCRYPTION-INFO entry for the KMS key "alias\/not-in-this-backup"/);
      expect(r.stdout + r.stderr).not.toContain('sekrit-value-123');
    });

    test('inspect shows the SHA-256 key IDs of every ENCRYPTION-INFO file without a key', async () => {
      const r = await runCli(['backup', 'inspect', testdata('collections', 'kms'), '--json']);
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout);
      const ids = j.backups[0].encryption.flatMap((e: { entries: { keyIdSha256: string }[] }) => e.entries.map((x) => x.keyIdSha256)).sort();
      const want = Object.keys(E().collections.kms.kms_keys)
        .map((id) => require('node:crypto').createHash('sha256').update(id).digest('hex'))
        .sort();
      expect(ids).toEqual(want);
      expect(j.backups[0].encryption[0].file).toMatch(/ENCRYPTION-INFO-2$/);
    });
  });
});

describe('backup inspect', () => {
  test('with a key it reports manifest facts; without one it still lists layers and cleartext objects', async () => {
    const bare = JSON.parse((await runCli(['backup', 'inspect', FIXTURE, '--json'])).stdout);
    expect(bare.latest).toBe('2025/11/20-101500.00');
    expect(bare.backups[0].layers.map((l: { kind: string }) => l.kind)).toEqual(['full', 'incremental']);
    expect(bare.backups[0].layers[0].facts).toBeUndefined();
    expect(bare.cleartext.map((c: { path: string }) => c.path)).toContain('2025/11/20-101500.00/ENCRYPTION-INFO');
    const withKey = JSON.parse((await runCli(['backup', 'inspect', FIXTURE, '--passphrase-file', FIXTURE_PASS, '--json'])).stdout);
    expect(withKey.backups[0].layers[0].facts).toEqual(expect.objectContaining({ files: 3, rows: 600, checksum: 'ok' }));
    expect(withKey.backups[0].layers[1].facts).toEqual(expect.objectContaining({ files: 1, rows: 200 }));
  });
});
