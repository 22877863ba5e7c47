import * as crypto from 'node:crypto';
import { GcpKmsProvider, gcpKeyId } from '../../src/kms/gcp-kms';
import { openKms } from '../../src/kms';
import { checkKey } from '../../src/kms/check';
import { KeyError, UsageError } from '../../src/errors';
import { start, type GcpKmsEmulator } from '../emulators/gcp-kms-server';
import { expectKeyError } from '../helpers/refusal';

const KEY = 'projects/p1/locations/global/keyRings/backups/cryptoKeys/cmek';
const TOKEN = 'ya29.emulator-bearer-token-0123456789';
let kms: GcpKmsEmulator;
let env: NodeJS.ProcessEnv;

const uri = (key = KEY, extra = '') => `gcp-kms:///${key}?AUTH=specified&BEARER_TOKEN=${TOKEN}${extra}`;
const open = (u = uri(), o: { retryBaseMs?: number; maxAttempts?: number } = {}) => new GcpKmsProvider(u, { env, ...o });

const refusal = (p: Promise<unknown>) => expectKeyError(p, [TOKEN]);

beforeAll(async () => {
  kms = await start();
  kms.createKey(KEY);
  env = { CRDB_CMEK_GCP_KMS_ENDPOINT: kms.endpoint };
});
afterAll(async () => {
  await kms.stop();
});

describe('Google Cloud KMS provider against the in-repo REST emulator', () => {
  test('key ID: leading slash and /cryptoKeyVersions/... stripped, as CockroachDB does', () => {
    expect(gcpKeyId(`/${KEY}/cryptoKeyVersions/3`)).toBe(KEY);
    expect(open(uri(`${KEY}/cryptoKeyVersions/7`)).keyId).toBe(KEY);
    expect(openKms(uri().replace('gcp-kms:', 'gs:'), { env }).keyId).toBe(KEY);
    expect(openKms(uri(), { env }).provider).toBe('gcp-kms');
  });

  test('round trip with CRC32C sent both ways and the bearer token used', async () => {
    const p = open();
    const secret = crypto.randomBytes(32);
    const ct = await p.encrypt(secret);
    expect((await p.decrypt(ct)).equals(secret)).toBe(true);
    const [enc, dec] = kms.calls.slice(-2);
    expect(enc).toMatchObject({ op: 'encrypt', name: KEY, requestCrc: true, authorization: `Bearer ${TOKEN}` });
    expect(dec).toMatchObject({ op: 'decrypt', name: KEY, requestCrc: true });
    await p.close();
  });

  test('a version suffix in the URI still works: requests go to the crypto key', async () => {
    const p = open(uri(`${KEY}/cryptoKeyVersions/1`));
    const ct = await p.encrypt(Buffer.from('abc'));
    expect((await p.decrypt(ct)).toString()).toBe('abc');
    expect(kms.calls[kms.calls.length - 1].name).toBe(KEY);
  });

  test('aad goes into additionalAuthenticatedData', async () => {
    const p = open();
    const ct = await p.encrypt(Buffer.from('store key'), Buffer.from('aad-1'));
    expect((await p.decrypt(ct, Buffer.from('aad-1'))).toString()).toBe('store key');
    expect((await refusal(p.decrypt(ct, Buffer.from('aad-2')))).message).toContain('INVALID_ARGUMENT');
    await refusal(p.decrypt(ct));
  });

  test.each(['ciphertext', 'ciphertextCrc32c', 'verifiedPlaintextCrc32c'] as const)('encrypt response with damaged %s is rejected', async (kind) => {
    const p = open();
    kms.corruptNext(kind);
    const e = await refusal(p.encrypt(Buffer.from('x')));
    expect(e.message).toMatch(/corrupted in-transit/);
  });

  test.each(['plaintext', 'plaintextCrc32c'] as const)('decrypt response with damaged %s is rejected', async (kind) => {
    const p = open();
    const ct = await p.encrypt(Buffer.from('secret'));
    kms.corruptNext(kind);
    const e = await refusal(p.decrypt(ct));
    expect(e.message).toMatch(/Decrypt: response corrupted in-transit/);
  });

  test.each([
    ['disabled', (k: string) => kms.disableKey(k), 'FAILED_PRECONDITION', 'DISABLED'],
    ['permission denied', (k: string) => kms.denyAccess(k), 'PERMISSION_DENIED', 'denied'],
    ['destroyed', (k: string) => kms.deleteKey(k), 'FAILED_PRECONDITION', 'DESTROYED'],
  ])('%s -> KeyError with the status and message; re-enabling restores', async (_n, revoke, status, words) => {
    const name = `projects/p1/locations/global/keyRings/backups/cryptoKeys/rev-${status}-${words}`;
    kms.createKey(name);
    const p = open(uri(name));
    const ct = await p.encrypt(Buffer.from('data key'));
    revoke(name);
    const e = await refusal(p.decrypt(ct));
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain(status);
    expect(e.message).toContain(words);
    expect(e.message).toContain(name);
    if (words === 'DESTROYED') return;
    kms.enableKey(name);
    kms.allowAccess(name);
    expect((await p.decrypt(ct)).toString()).toBe('data key');
  });

  test('missing key -> NOT_FOUND; no credentials -> UNAUTHENTICATED', async () => {
    expect((await refusal(open(uri(`${KEY}-missing`)).encrypt(Buffer.from('x')))).message).toContain('NOT_FOUND');
    kms.requireBearer = 'another-token';
    try {
      expect((await refusal(open().encrypt(Buffer.from('x')))).message).toContain('UNAUTHENTICATED');
    } finally {
      kms.requireBearer = undefined;
    }
  });

  test('key rotation: old ciphertexts still decrypt, new ones use the new version', async () => {
    const name = 'projects/p1/locations/global/keyRings/backups/cryptoKeys/rotating';
    kms.createKey(name);
    const p = open(uri(name));
    const old = await p.encrypt(Buffer.from('v1 secret'));
    expect(kms.rotateKey(name)).toBe(2);
    const fresh = await p.encrypt(Buffer.from('v2 secret'));
    expect(fresh.readUInt16BE(4)).toBe(2);
    expect((await p.decrypt(old)).toString()).toBe('v1 secret');
    expect((await p.decrypt(fresh)).toString()).toBe('v2 secret');
  });

  test('RESOURCE_EXHAUSTED is retried a bounded number of times', async () => {
    const p = open(uri(), { retryBaseMs: 1, maxAttempts: 3 });
    kms.throttleNext(2);
    await expect(p.encrypt(Buffer.from('x'))).resolves.toBeInstanceOf(Buffer);
    kms.throttleNext(3);
    expect((await refusal(p.encrypt(Buffer.from('x')))).message).toContain('RESOURCE_EXHAUSTED');
    kms.throttleNext(0);
  });

  test('unreachable service -> KeyError "unreachable"', async () => {
    const p = new GcpKmsProvider(uri(), { env: { CRDB_CMEK_GCP_KMS_ENDPOINT: 'http://127.0.0.1:1' } });
    expect((await refusal(p.encrypt(Buffer.from('x')))).message).toMatch(/unreachable/);
  });

  test('URI rules and redaction', () => {
    expect(() => open('gcp-kms:///?AUTH=implicit')).toThrow(UsageError);
    expect(() => open(`gcp-kms:///${KEY}`)).toThrow(/CREDENTIALS or BEARER_TOKEN/);
    expect(() => open(`gcp-kms:///${KEY}?CREDENTIALS=bm90IGpzb24`)).toThrow(/CREDENTIALS/);
    let err: Error | undefined;
    try {
      open(`gcp-kms:///${KEY}?AUTH=implicit&CREDENTAILS=c2VjcmV0LXNlY3JldA`);
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect(err!.message).toContain('CREDENTAILS');
    expect(err!.message).not.toContain('c2VjcmV0LXNlY3JldA');
    expect(open().displayUri).not.toContain(TOKEN);
    expect(() => open(uri(KEY, `&ASSUME_ROLE=${encodeURIComponent('a@p.iam.gserviceaccount.com,b@p.iam.gserviceaccount.com')}`))).not.toThrow();
  });

  test('checkKey', async () => {
    const r = await checkKey(open());
    expect(r).toMatchObject({ provider: 'gcp-kms', keyId: KEY, ok: true });
  });
});
