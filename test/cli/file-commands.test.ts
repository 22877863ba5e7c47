/**
 * `file encrypt` / `file decrypt` through the built CLI: round trips by file and by stdin/stdout, the
 * exit codes of spec/cli.md, no output file on failure, and no secret in any output.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli, type CliResult } from '../helpers/cli';
import { describeShared, expected, testdata } from '../helpers/shared';

let dir: string;
const KEY = randomBytes(32);
const KEY_HEX = KEY.toString('hex');
const PASS = 'cli test passphrase ünïcode';
let keyFile: string;
let passFile: string;

function p(name: string): string {
  return path.join(dir, name);
}

/** No secret appears in stdout or stderr. */
function expectNoSecrets(r: CliResult, extra: string[] = []): void {
  for (const s of [KEY_HEX, KEY_HEX.toUpperCase(), PASS, ...extra]) {
    expect(r.stdout).not.toContain(s);
    expect(r.stderr).not.toContain(s);
  }
}

/** Output files in dir other than the ones we expect (temp leftovers included). */
function listDir(): string[] {
  return fs.readdirSync(dir).sort();
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crdb-cmek-file-'));
  keyFile = p('data.key');
  fs.writeFileSync(keyFile, `${KEY_HEX}\n`);
  passFile = p('pass.txt');
  fs.writeFileSync(passFile, `${PASS}\n`);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('file encrypt / decrypt round trips', () => {
  test.each([0, 1, 65535, 65536, 65537, 3 * 65536, 300001])('files, %i bytes, --key-file', async (n) => {
    const plain = randomBytes(n);
    fs.writeFileSync(p(`plain-${n}`), plain);
    const e = await runCli(['file', 'encrypt', '--key-file', keyFile, p(`plain-${n}`), p(`enc-${n}`)]);
    expect(e.code).toBe(0);
    const enc = fs.readFileSync(p(`enc-${n}`));
    expect(enc.subarray(0, 8).toString('latin1')).toBe('encrypt\x02');
    expect(enc.length).toBe(20 + Math.floor(n / 65536) * 65552 + (n % 65536) + 16);
    const d = await runCli(['file', 'decrypt', '--key-file', keyFile, p(`enc-${n}`), p(`dec-${n}`)]);
    expect(d.code).toBe(0);
    expect(fs.readFileSync(p(`dec-${n}`)).equals(plain)).toBe(true);
    expect(fs.statSync(p(`dec-${n}`)).mode & 0o777).toBe(0o600);
    expectNoSecrets(e);
    expectNoSecrets(d);
  });

  test.each([0, 65536, 200003])('stdin/stdout, %i bytes', async (n) => {
    const plain = randomBytes(n);
    const e = await runCli(['file', 'encrypt', '--key-file', keyFile, '-', '-'], { input: plain });
    expect(e.code).toBe(0);
    expect(e.stderr).toBe('');
    const d = await runCli(['file', 'decrypt', '--key-file', keyFile, '-', '-'], { input: e.stdoutBuf });
    expect(d.code).toBe(0);
    expect(d.stdoutBuf.equals(plain)).toBe(true);
    expectNoSecrets(d);
  });

  test('passphrase: encrypt writes a new ENCRYPTION-INFO with a fresh salt; decrypt reads it; --json', async () => {
    const plain = randomBytes(70000);
    fs.writeFileSync(p('pp-plain'), plain);
    const e = await runCli(['file', 'encrypt', '--passphrase-file', passFile, '--encryption-info', p('EI'), p('pp-plain'), p('pp-enc')]);
    expect(e.code).toBe(0);
    const info = fs.readFileSync(p('EI'));
    expect(info.length).toBe(18);
    expect(info.subarray(0, 2).equals(Buffer.from([0x12, 0x10]))).toBe(true);
    const d = await runCli(['file', 'decrypt', '--json', '--passphrase-env', 'PP', '--encryption-info', p('EI'), p('pp-enc'), p('pp-dec')], {
      env: { PP: PASS },
    });
    expect(d.code).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({ status: 'ok', bytesOut: 70000 });
    expect(fs.readFileSync(p('pp-dec')).equals(plain)).toBe(true);
    // The same salt by hex works too; a different salt is a key error.
    const salt = info.subarray(2).toString('hex');
    const d2 = await runCli(['file', 'decrypt', '--passphrase-file', passFile, '--salt-hex', salt, p('pp-enc'), '-']);
    expect(d2.code).toBe(0);
    expect(d2.stdoutBuf.equals(plain)).toBe(true);
    const d3 = await runCli(['file', 'decrypt', '--passphrase-file', passFile, '--salt-hex', '00'.repeat(16), p('pp-enc'), p('pp-dec3')]);
    expect(d3.code).toBe(3);
    expect(fs.existsSync(p('pp-dec3'))).toBe(false);
    for (const r of [e, d, d2, d3]) expectNoSecrets(r);
  });

  test('encrypt with an existing ENCRYPTION-INFO reuses its salt and leaves it unchanged', async () => {
    const before = fs.readFileSync(p('EI'));
    fs.writeFileSync(p('reuse-plain'), 'hello');
    const e = await runCli(['file', 'encrypt', '--passphrase-file', passFile, '--encryption-info', p('EI'), p('reuse-plain'), p('reuse-enc')]);
    expect(e.code).toBe(0);
    expect(fs.readFileSync(p('EI')).equals(before)).toBe(true);
    const d = await runCli(['file', 'decrypt', '--passphrase-file', passFile, '--salt-hex', before.subarray(2).toString('hex'), p('reuse-enc'), '-']);
    expect(d.stdout).toBe('hello');
  });
});

describe('file commands: usage errors (exit 2)', () => {
  test.each([
    ['no key at all', ['file', 'decrypt', 'x', 'y'], /no key given/],
    ['passphrase without salt (decrypt)', ['file', 'decrypt', '--passphrase-file', 'PASS', 'x', 'y'], /--salt-hex/],
    ['passphrase without salt (encrypt)', ['file', 'encrypt', '--passphrase-file', 'PASS', 'x', 'y'], /--encryption-info FILE/],
    ['key file and passphrase', ['file', 'decrypt', '--key-file', 'KEY', '--passphrase-file', 'PASS', 'x', 'y'], /either --key-file/],
    ['bad salt hex', ['file', 'decrypt', '--passphrase-file', 'PASS', '--salt-hex', 'abc', 'x', 'y'], /32 hexadecimal/],
    ['missing argument', ['file', 'decrypt', '--key-file', 'KEY', 'x'], /OUT|argument/i],
    ['unset env var', ['file', 'decrypt', '--passphrase-env', 'NOPE_NOT_SET', '--salt-hex', '00'.repeat(16), 'x', 'y'], /NOPE_NOT_SET is not set/],
    ['passphrase in argv is not a flag', ['file', 'decrypt', '--passphrase', 'secret', 'x', 'y'], /passphrase/],
  ])('%s', async (_name, args, msg) => {
    const real = args.map((a) => (a === 'PASS' ? passFile : a === 'KEY' ? keyFile : a === 'x' ? p('none-in') : a === 'y' ? p('none-out') : a));
    const r = await runCli(real);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(fs.existsSync(p('none-out'))).toBe(false);
    expectNoSecrets(r);
  });

  test('a bad key file is a usage error that does not echo it', async () => {
    fs.writeFileSync(p('bad.key'), 'deadbeef'.repeat(7));
    const r = await runCli(['file', 'decrypt', '--key-file', p('bad.key'), p('none-in'), p('none-out')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/32 bytes/);
    expect(r.stderr).not.toContain('deadbeefdeadbeef');
  });

  test('a missing input is a storage error (4) and leaves no output', async () => {
    const r = await runCli(['file', 'decrypt', '--key-file', keyFile, p('none-in'), p('none-out')]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/not found/);
    expect(fs.existsSync(p('none-out'))).toBe(false);
  });
});

describe('file decrypt: damaged input', () => {
  let enc: Buffer;
  beforeAll(() => {
    fs.writeFileSync(p('dmg-plain'), randomBytes(3 * 65536 + 100));
  });
  beforeAll(async () => {
    const r = await runCli(['file', 'encrypt', '--key-file', keyFile, p('dmg-plain'), p('dmg-enc')]);
    expect(r.code).toBe(0);
    enc = fs.readFileSync(p('dmg-enc'));
  });

  async function decryptBad(bad: Buffer, name: string): Promise<CliResult> {
    fs.writeFileSync(p(name), bad);
    const before = listDir();
    const r = await runCli(['file', 'decrypt', '--key-file', keyFile, p(name), p(`${name}.out`)]);
    expect(fs.existsSync(p(`${name}.out`))).toBe(false);
    expect(listDir()).toEqual(before); // no temp file left behind either
    expectNoSecrets(r);
    return r;
  }

  test('chunk 0 damaged: key error (3) "wrong key, or the file is damaged at its start"', async () => {
    const bad = Buffer.from(enc);
    bad[30] ^= 1;
    const r = await decryptBad(bad, 'dmg0');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('wrong key, or the file is damaged at its start');
  });

  test('chunk 2 damaged: integrity error (1) naming the chunk and byte offset; no output file', async () => {
    const bad = Buffer.from(enc);
    bad[20 + 2 * 65552 + 5] ^= 1;
    const r = await decryptBad(bad, 'dmg2');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/chunk 2 at byte offset 131124/);
  });

  test('chunk 2 damaged, to stdout: exit 1, only the verified chunks were written', async () => {
    const bad = Buffer.from(enc);
    bad[20 + 2 * 65552 + 5] ^= 1;
    const r = await runCli(['file', 'decrypt', '--key-file', keyFile, '-', '-'], { input: bad });
    expect(r.code).toBe(1);
    expect(r.stdoutBuf.length).toBeLessThanOrEqual(2 * 65536);
    expect(r.stdoutBuf.equals(fs.readFileSync(p('dmg-plain')).subarray(0, r.stdoutBuf.length))).toBe(true);
  });

  test('truncated: exit 1 with the truncation message', async () => {
    const r = await decryptBad(enc.subarray(0, 20 + 3 * 65552), 'trunc');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/truncated at a chunk boundary/);
  });

  test('not encrypted: exit 1', async () => {
    const r = await decryptBad(Buffer.from('just some plaintext, no preamble'), 'plain');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not encrypted/);
  });

  test('wrong key: exit 3', async () => {
    fs.writeFileSync(p('other.key'), randomBytes(32));
    const r = await runCli(['file', 'decrypt', '--key-file', p('other.key'), p('dmg-enc'), p('wk.out')]);
    expect(r.code).toBe(3);
    expect(fs.existsSync(p('wk.out'))).toBe(false);
  });

  test('a failed decrypt does not clobber an existing output file', async () => {
    fs.writeFileSync(p('keep.out'), 'old content');
    const r = await runCli(['file', 'decrypt', '--key-file', keyFile, p('dmg2'), p('keep.out')]);
    expect(r.code).toBe(1);
    expect(fs.readFileSync(p('keep.out'), 'utf8')).toBe('old content');
  });
});

describeShared('file decrypt: shared CockroachDB vectors with the KDF passphrase', () => {
  const exp = expected();
  const ok = (exp.vectors as { file: string; plaintext: string; expect: string }[]).filter((v) => v.expect === 'ok');
  const badCodes: Record<string, number> = {
    'bad-truncated-at-chunk-boundary.bin': 1,
    'bad-truncated-mid-chunk.bin': 1,
    'bad-bitflip-body.bin': 3,
    'bad-bitflip-iv.bin': 3,
    'bad-bitflip-tag.bin': 1,
    'bad-swapped-chunks.bin': 3,
    'bad-version.bin': 1,
    'bad-short-header.bin': 1,
    'bad-not-encrypted.bin': 1,
  };
  let kdfPass: string;
  beforeAll(() => {
    kdfPass = p('kdf-pass');
    fs.writeFileSync(kdfPass, `${exp.kdf.passphrase}\n`);
  });

  test.each(ok.map((v) => [v.file, v.plaintext]))('%s', async (file, plain) => {
    const out = p(`v-${file}.out`);
    const r = await runCli(['file', 'decrypt', '--passphrase-file', kdfPass, '--salt-hex', exp.kdf.salt_hex, testdata('vectors', file), out]);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(out).equals(fs.readFileSync(testdata('vectors', plain)))).toBe(true);
    expectNoSecrets(r, [exp.kdf.passphrase, exp.kdf.key_hex]);
  });

  test.each(Object.entries(badCodes))('%s exits %i', async (file, code) => {
    const out = p(`v-${file}.out`);
    const r = await runCli(['file', 'decrypt', '--passphrase-file', kdfPass, '--salt-hex', exp.kdf.salt_hex, testdata('vectors', file), out]);
    expect(r.code).toBe(code);
    expect(fs.existsSync(out)).toBe(false);
    expectNoSecrets(r, [exp.kdf.passphrase, exp.kdf.key_hex]);
  });
});
