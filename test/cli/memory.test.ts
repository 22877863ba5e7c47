/**
 * Bounded memory: `backup decrypt` and `backup verify` of a generated collection whose data file is 512 MiB, run as a child
 * process. A tiny preload script records `process.resourceUsage().maxRSS` at exit; the peak must stay
 * within a fixed margin of the same command on a 1 MiB collection (it would grow by >= 512 MiB if the
 * object were buffered). The collection is generated here with EncryptStream in a temp dir and deleted.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { emptyManifest, encodeManifest, writeManifestBytes } from '../../src/backup/manifest';
import { latestContent, latestObjectName } from '../../src/backup/latest';
import { encryptBuffer, EncryptStream } from '../../src/format/chunked';
import { encodeEncryptionInfo, passphraseEncryptionInfo } from '../../src/keys/encryption-info';
import { deriveKeyFromPassphrase, generateSalt } from '../../src/keys/passphrase';
import { BIN, ROOT } from '../helpers/cli';

const MiB = 1024 * 1024;
const PASS = 'memory test passphrase';
const FULL = '2026/01/02-030405.00';
let dir: string;

/** Writes an encrypted one-backup collection with one data file of `size` bytes; returns its plaintext SHA-256. */
async function generate(root: string, size: number): Promise<string> {
  const salt = generateSalt();
  const key = await deriveKeyFromPassphrase(PASS, salt);
  const full = path.join(root, FULL);
  await fsp.mkdir(path.join(full, 'data'), { recursive: true });
  await fsp.writeFile(path.join(full, 'ENCRYPTION-INFO'), encodeEncryptionInfo(passphraseEncryptionInfo(salt)));
  const m = emptyManifest();
  m.files.push({
    span: { key: Buffer.from('a'), endKey: Buffer.from('z') },
    path: 'data/1.sst',
    entryCounts: { dataSize: size, rows: 1, indexEntries: 0 },
    localityKv: '',
    backingFileSize: 0,
    approximatePhysicalSize: size,
    hasRangeKeys: false,
  });
  const { manifest, checksum } = await writeManifestBytes(encodeManifest(m), (b) => encryptBuffer(key, b));
  await fsp.writeFile(path.join(full, 'BACKUP_MANIFEST'), manifest);
  await fsp.writeFile(path.join(full, 'BACKUP_MANIFEST-CHECKSUM'), checksum);
  await fsp.mkdir(path.join(root, 'metadata', 'latest'), { recursive: true });
  await fsp.writeFile(path.join(root, latestObjectName(new Date())), latestContent(FULL));

  const block = randomBytes(MiB);
  const h = createHash('sha256');
  async function* plaintext(): AsyncGenerator<Buffer> {
    for (let off = 0; off < size; off += MiB) {
      const b = Buffer.from(block.subarray(0, Math.min(MiB, size - off)));
      b.writeUInt32BE(off / MiB, 0); // no two MiB alike
      h.update(b);
      yield b;
    }
  }
  await pipeline(Readable.from(plaintext()), new EncryptStream(key), createWriteStream(path.join(full, 'data', '1.sst')));
  return h.digest('hex');
}

/** Runs the CLI with a preload that records peak RSS (KiB); returns exit code, stderr and maxRSS. */
function runMeasured(args: string[]): Promise<{ code: number; stderr: string; maxRssKiB: number }> {
  const preload = path.join(dir, 'maxrss.js');
  const out = path.join(dir, `maxrss-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
  fs.writeFileSync(
    preload,
    "process.on('exit', () => require('fs').writeFileSync(process.env.MAXRSS_OUT, String(process.resourceUsage().maxRSS)));\n",
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--require', preload, BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true', MAXRSS_OUT: out },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stderr, maxRssKiB: Number(fs.readFileSync(out, 'utf8')) }));
  });
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file, { highWaterMark: 4 * MiB })) h.update(c as Buffer);
  return h.digest('hex');
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crdb-cmek-memory-'));
  fs.writeFileSync(path.join(dir, 'pass.txt'), `${PASS}\n`);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('decrypting a 512 MiB data file keeps peak RSS bounded', async () => {
  const small = path.join(dir, 'small');
  const big = path.join(dir, 'big');
  await generate(small, MiB);
  const bigSha = await generate(big, 512 * MiB);
  const pass = ['--passphrase-file', path.join(dir, 'pass.txt')];

  const base = await runMeasured(['backup', 'decrypt', small, path.join(dir, 'small-out'), ...pass, '--concurrency', '4']);
  expect(base.stderr).toBe('');
  expect(base.code).toBe(0);
  await fsp.rm(small, { recursive: true, force: true });

  const run = await runMeasured(['backup', 'decrypt', big, path.join(dir, 'big-out'), ...pass, '--concurrency', '4']);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);

  // verify streams the same object (every chunk authenticated) with the same bound; the data file is not
  // a real table, so the structural SST check is skipped here.
  const baseVerify = await runMeasured(['backup', 'verify', path.join(dir, 'small-out'), '--skip-sst-check', '--concurrency', '4']);
  expect(baseVerify.code).toBe(0);
  const verifyRun = await runMeasured(['backup', 'verify', big, ...pass, '--skip-sst-check', '--concurrency', '4']);
  expect(verifyRun.stderr).toBe('');
  expect(verifyRun.code).toBe(0);
  expect((verifyRun.maxRssKiB - baseVerify.maxRssKiB) / 1024).toBeLessThan(96);
  await fsp.rm(big, { recursive: true, force: true });

  const outFile = path.join(dir, 'big-out', FULL, 'data', '1.sst');
  expect(fs.statSync(outFile).size).toBe(512 * MiB);
  expect(await sha256File(outFile)).toBe(bigSha);
  await fsp.rm(path.join(dir, 'big-out'), { recursive: true, force: true });

  const growthMiB = (run.maxRssKiB - base.maxRssKiB) / 1024;
  // Streaming holds a few MiB per object in flight; buffering the object would add >= 512 MiB.
  expect(growthMiB).toBeLessThan(96);
  expect(run.maxRssKiB / 1024).toBeLessThan(400);
}, 300_000);
