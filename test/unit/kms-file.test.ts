import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileCmekProvider, FILE_CMEK_MAGIC } from '../../src/kms/file-cmek';
import { openKms } from '../../src/kms';
import { checkKey } from '../../src/kms/check';
import { KeyError, UsageError } from '../../src/errors';
import { expectKeyError } from '../helpers/refusal';

let dir: string;
const keyFile = (name: string, bits: number, id = crypto.randomBytes(32)) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, Buffer.concat([id, crypto.randomBytes(bits / 8)]));
  return { f, id };
};

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'file-cmek-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const refusal = (p: Promise<unknown>) => expectKeyError(p);

describe('file CMEK (CockroachDB store-key file)', () => {
  test.each([128, 192, 256])('AES-%i key file: key ID is the hex of the first 32 bytes; round trip', async (bits) => {
    const { f, id } = keyFile(`k${bits}.key`, bits);
    const p = new FileCmekProvider(`file://${f}`);
    expect(p.keyId).toBe(id.toString('hex'));
    expect(p.keyBits).toBe(bits);
    const secret = crypto.randomBytes(32);
    const env = await p.encrypt(secret);
    // magic | version | key id | nonce | ct | tag
    expect(env.subarray(0, 4).equals(FILE_CMEK_MAGIC)).toBe(true);
    expect(env[4]).toBe(1);
    expect(env.subarray(5, 37).equals(id)).toBe(true);
    expect(env.length).toBe(4 + 1 + 32 + 12 + 32 + 16);
    expect((await p.decrypt(env)).equals(secret)).toBe(true);
    const again = await p.encrypt(secret);
    expect(again.subarray(37, 49).equals(env.subarray(37, 49))).toBe(false); // fresh nonce
  });

  test('every byte of the envelope is authenticated (header through tag)', async () => {
    const { f } = keyFile('auth.key', 256);
    const p = openKms(`file://${f}`);
    const env = await p.encrypt(Buffer.from('0123456789abcdef'));
    for (let i = 0; i < env.length; i++) {
      const bad = Buffer.from(env);
      bad[i] ^= 0x40;
      await refusal(p.decrypt(bad));
    }
  });

  test('aad is GCM additional data: same aad opens, different or missing aad does not', async () => {
    const { f } = keyFile('aad.key', 192);
    const p = new FileCmekProvider(`file://${f}`);
    const env = await p.encrypt(Buffer.from('store key'), Buffer.from('level=store;v=1'));
    expect((await p.decrypt(env, Buffer.from('level=store;v=1'))).toString()).toBe('store key');
    expect((await refusal(p.decrypt(env, Buffer.from('level=data;v=1')))).message).toContain('AuthenticationFailed');
    await refusal(p.decrypt(env));
  });

  test('another key file (different ID, or same ID with other key bytes) is refused', async () => {
    const a = keyFile('a.key', 256);
    const b = keyFile('b.key', 256);
    const sameId = keyFile('a2.key', 256, a.id);
    const env = await new FileCmekProvider(`file://${a.f}`).encrypt(Buffer.from('x'));
    const e = await refusal(new FileCmekProvider(`file://${b.f}`).decrypt(env));
    expect(e.message).toContain('IncorrectKey');
    expect(e.message).toContain(a.id.toString('hex'));
    expect((await refusal(new FileCmekProvider(`file://${sameId.f}`).decrypt(env))).message).toContain('AuthenticationFailed');
  });

  test('missing file and bad sizes are KeyErrors (exit 3); the key bytes never appear', () => {
    expect(() => new FileCmekProvider(`file://${dir}/nope.key`)).toThrow(KeyError);
    const bad = path.join(dir, 'bad.key');
    fs.writeFileSync(bad, crypto.randomBytes(40));
    let err: Error | undefined;
    try {
      new FileCmekProvider(`file://${bad}`);
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeInstanceOf(KeyError);
    expect((err as KeyError).exitCode).toBe(3);
    expect(err!.message).toMatch(/40 bytes, expected 48, 56 or 64/);
  });

  test('URI forms: file:///abs, file:relative; parameters are not accepted; no-path is usage', async () => {
    const { f } = keyFile('rel.key', 128);
    expect(new FileCmekProvider(`file:rel.key`, { cwd: dir }).file).toBe(f);
    expect(() => new FileCmekProvider(`file://${f}?X=1`)).toThrow(UsageError);
    expect(() => new FileCmekProvider('file:///')).toThrow(UsageError);
    expect(() => openKms('ftp://x/y')).toThrow(UsageError);
    expect((await checkKey(new FileCmekProvider(`file://${f}`))).provider).toBe('file');
  });
});
