/**
 * Our AWS KMS provider against the external stand-in (../shared/tools/fake-aws-kms.js), which the
 * hold-out checks use: it must unwrap the data key of the shared `kms` collection through each of its
 * three master key IDs, and report a disabled or unknown key as a key error with the service's reason.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AwsKmsProvider } from '../../src/kms/aws-kms';
import { checkKey } from '../../src/kms/check';
import { KeyError } from '../../src/errors';
import { describeShared, expected, testdata, SHARED } from '../helpers/shared';

const FULL = ['collections', 'kms', '2025', '11', '20-101500.00'];
const DISABLED = 'alias/backup-dr';

/** Minimal EncryptionInfo decoding: field 3 entries {1: raw sha256(keyId), 2: wrapped key}. */
function kmsEntries(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let i = 0;
  const varint = () => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = buf[i++];
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
    }
  };
  while (i < buf.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 0) {
      varint();
      continue;
    }
    if (wire !== 2) throw new Error(`unexpected wire type ${wire}`);
    const len = varint();
    const body = buf.subarray(i, i + len);
    i += len;
    if (tag >>> 3 !== 3) continue;
    let j = 0;
    let key: Buffer | undefined;
    let value: Buffer | undefined;
    while (j < body.length) {
      const t = body[j++];
      let l = 0;
      let s = 0;
      for (;;) {
        const b = body[j++];
        l += (b & 0x7f) * 2 ** s;
        if (b < 0x80) break;
        s += 7;
      }
      if (t >>> 3 === 1) key = body.subarray(j, j + l);
      if (t >>> 3 === 2) value = body.subarray(j, j + l);
      j += l;
    }
    if (key && value) out.set(key.toString('hex'), value);
  }
  return out;
}

describeShared('AWS KMS provider against ../shared/tools/fake-aws-kms.js', () => {
  let child: ChildProcess;
  let dir: string;
  let endpoint: string;
  let portFile: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-aws-kms-'));
    portFile = path.join(dir, 'port');
    child = spawn(process.execPath, [path.join(SHARED, 'tools', 'fake-aws-kms.js'), testdata('collections', 'kms-keys.json'), portFile, DISABLED], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!fs.existsSync(portFile) || !fs.readFileSync(portFile, 'utf8')) {
      if (Date.now() > deadline) throw new Error('fake-aws-kms did not start');
      await new Promise((r) => setTimeout(r, 25));
    }
    endpoint = `http://127.0.0.1:${fs.readFileSync(portFile, 'utf8').trim()}`;
  });
  afterAll(() => {
    child?.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const provider = (keyId: string) =>
    new AwsKmsProvider(`aws-kms:///${keyId}?REGION=us-east-1&AWS_ENDPOINT=${encodeURIComponent(endpoint)}&AWS_ACCESS_KEY_ID=AKIAFAKE&AWS_SECRET_ACCESS_KEY=fake%2Fsecret`);

  test('each master key ID unwraps the collection data key from ENCRYPTION-INFO or -2', async () => {
    const exp = expected().collections.kms;
    const entries = new Map<string, Buffer>();
    for (const name of ['ENCRYPTION-INFO', 'ENCRYPTION-INFO-2']) {
      for (const [k, v] of kmsEntries(fs.readFileSync(testdata(...FULL, name)))) entries.set(k, v);
    }
    const ids = Object.keys(exp.kms_keys);
    expect(ids).toHaveLength(3);
    for (const id of ids.filter((x) => x !== DISABLED)) {
      const p = provider(id);
      expect(p.keyId).toBe(id);
      const wrapped = entries.get(crypto.createHash('sha256').update(id).digest('hex'));
      expect(wrapped).toBeDefined();
      const dataKey = await p.decrypt(wrapped!);
      expect(dataKey.toString('hex')).toBe(exp.data_key_hex);
    }
    const calls = JSON.parse(fs.readFileSync(`${portFile}.calls.json`, 'utf8')) as { op: string; keyId: string; auth: boolean }[];
    expect(calls.filter((c) => c.op === 'Decrypt').every((c) => c.auth && ids.includes(c.keyId))).toBe(true);
  });

  test('the disabled key is a KeyError carrying DisabledException; an unknown key NotFoundException', async () => {
    const entries = kmsEntries(fs.readFileSync(testdata(...FULL, 'ENCRYPTION-INFO')));
    const all = new Map([...entries, ...kmsEntries(fs.readFileSync(testdata(...FULL, 'ENCRYPTION-INFO-2')))]);
    const wrapped = all.get(crypto.createHash('sha256').update(DISABLED).digest('hex'));
    expect(wrapped).toBeDefined();
    const e = await provider(DISABLED).decrypt(wrapped!).catch((x) => x as Error);
    expect(e).toBeInstanceOf(KeyError);
    expect((e as KeyError).exitCode).toBe(3);
    expect((e as Error).message).toContain('DisabledException');
    expect((e as Error).message).toContain(DISABLED);
    expect((e as Error).message).not.toContain('fake/secret');
    const nf = await provider('alias/unknown').encrypt(Buffer.alloc(32)).catch((x) => x as Error);
    expect(nf).toBeInstanceOf(KeyError);
    expect((nf as Error).message).toContain('NotFoundException');
  });

  test('our own wraps round-trip through it, and keys check works', async () => {
    const id = 'arn:aws:kms:eu-west-1:111122223333:key/cccc-3';
    const p = provider(id);
    const key = crypto.randomBytes(32);
    expect((await p.decrypt(await p.encrypt(key))).equals(key)).toBe(true);
    expect(await checkKey(p)).toMatchObject({ provider: 'aws-kms', keyId: id, ok: true });
  });
});
