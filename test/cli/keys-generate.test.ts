/**
 * `keys generate`: CockroachDB store-key format, mode 0600, no overwrite without --force, prints the
 * key ID and never the key.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../helpers/cli';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crdb-cmek-keygen-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('keys generate', () => {
  test.each([
    [undefined, 64],
    ['128', 48],
    ['192', 56],
    ['256', 64],
  ])('--size %s writes %i bytes, mode 0600, prints the key ID only', async (size, len) => {
    const f = path.join(dir, `k-${size ?? 'default'}`);
    const r = await runCli(['keys', 'generate', f, ...(size ? ['--size', size] : [])]);
    expect(r.code).toBe(0);
    const buf = fs.readFileSync(f);
    expect(buf.length).toBe(len);
    expect(fs.statSync(f).mode & 0o777).toBe(0o600);
    const id = buf.subarray(0, 32).toString('hex');
    const key = buf.subarray(32).toString('hex');
    expect(r.stdout).toContain(id);
    for (const out of [r.stdout, r.stderr]) {
      expect(out).not.toContain(key);
      expect(out.toLowerCase()).not.toContain(key.slice(0, 16));
      expect(out).not.toContain(buf.subarray(32).toString('base64'));
    }
  });

  test('refuses to overwrite without --force (exit 2), replaces with --force', async () => {
    const f = path.join(dir, 'existing.key');
    fs.writeFileSync(f, 'keep me');
    const r = await runCli(['keys', 'generate', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already exists/);
    expect(r.stderr).toMatch(/--force/);
    expect(fs.readFileSync(f, 'utf8')).toBe('keep me');
    const r2 = await runCli(['keys', 'generate', '--force', '--json', f]);
    expect(r2.code).toBe(0);
    const j = JSON.parse(r2.stdout);
    expect(j).toMatchObject({ status: 'ok', bits: 256 });
    const buf = fs.readFileSync(f);
    expect(buf.length).toBe(64);
    expect(j.keyId).toBe(buf.subarray(0, 32).toString('hex'));
    expect(r2.stdout).not.toContain(buf.subarray(32).toString('hex'));
    expect(fs.statSync(f).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  test('two runs give different keys and IDs', async () => {
    const a = path.join(dir, 'a.key');
    const b = path.join(dir, 'b.key');
    expect((await runCli(['keys', 'generate', a])).code).toBe(0);
    expect((await runCli(['keys', 'generate', b])).code).toBe(0);
    const A = fs.readFileSync(a);
    const B = fs.readFileSync(b);
    expect(A.subarray(0, 32).equals(B.subarray(0, 32))).toBe(false);
    expect(A.subarray(32).equals(B.subarray(32))).toBe(false);
  });

  test('bad --size and missing FILE are usage errors (exit 2)', async () => {
    const r = await runCli(['keys', 'generate', path.join(dir, 'x.key'), '--size', '512']);
    expect(r.code).toBe(2);
    expect(fs.existsSync(path.join(dir, 'x.key'))).toBe(false);
    expect((await runCli(['keys', 'generate'])).code).toBe(2);
  });

  test('an unwritable location is an error and leaves nothing', async () => {
    const r = await runCli(['keys', 'generate', path.join(dir, 'no', 'such', 'dir', 'k')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot create/);
  });

  test('--help shows examples', async () => {
    const r = await runCli(['keys', 'generate', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/EXAMPLES/);
    expect(r.stdout).toMatch(/--size/);
  });
});
