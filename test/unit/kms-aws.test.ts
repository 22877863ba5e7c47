import * as crypto from 'node:crypto';
import { AwsKmsProvider } from '../../src/kms/aws-kms';
import { openKms } from '../../src/kms';
import { checkKey } from '../../src/kms/check';
import { KeyError, UsageError } from '../../src/errors';
import { start, type AwsKmsEmulator } from '../emulators/aws-kms-server';
import { expectKeyError } from '../helpers/refusal';

const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const AKID = 'AKIAEMULATOR0001';

let kms: AwsKmsEmulator;
const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1111-aaaa';
const ALIAS = 'alias/backups';

function uri(key: string, extra = ''): string {
  return `aws-kms:///${key}?REGION=us-east-1&AWS_ENDPOINT=${encodeURIComponent(kms.endpoint)}&AWS_ACCESS_KEY_ID=${AKID}&AWS_SECRET_ACCESS_KEY=${encodeURIComponent(SECRET)}${extra}`;
}

const refusal = (p: Promise<unknown>) => expectKeyError(p);

beforeAll(async () => {
  kms = await start();
  kms.createKey(KEY);
  kms.createKey(ALIAS);
});
afterAll(async () => {
  await kms.stop();
});

describe('AWS KMS provider against the in-repo emulator', () => {
  test('key ID is the path without the leading slash, verbatim; both schemes', () => {
    expect(new AwsKmsProvider(uri(KEY)).keyId).toBe(KEY);
    expect(new AwsKmsProvider(uri(ALIAS).replace('aws-kms:', 'aws:')).keyId).toBe(ALIAS);
    expect(openKms(uri(ALIAS)).provider).toBe('aws-kms');
  });

  test('round trip, signed requests, KeyId sent on decrypt, no context without aad', async () => {
    const p = new AwsKmsProvider(uri(KEY));
    const secret = crypto.randomBytes(32);
    const blob = await p.encrypt(secret);
    expect(blob.equals(secret)).toBe(false);
    expect((await p.decrypt(blob)).equals(secret)).toBe(true);
    const last = kms.calls.slice(-2);
    expect(last.map((c) => c.op)).toEqual(['Encrypt', 'Decrypt']);
    expect(last.every((c) => c.keyId === KEY && c.accessKeyId === AKID && c.encryptionContext === undefined)).toBe(true);
    await p.close();
  });

  test('aad is bound through the EncryptionContext', async () => {
    const p = new AwsKmsProvider(uri(KEY));
    const blob = await p.encrypt(Buffer.from('store key'), Buffer.from('level=store'));
    expect(kms.calls[kms.calls.length - 1].encryptionContext).toEqual({ 'crdb-cmek-aad': Buffer.from('level=store').toString('base64') });
    expect((await p.decrypt(blob, Buffer.from('level=store'))).toString()).toBe('store key');
    const e = await refusal(p.decrypt(blob, Buffer.from('level=data')));
    expect(e.message).toContain('InvalidCiphertextException');
    await refusal(p.decrypt(blob));
  });

  test('a space in the secret is a "+" (unescaped query string), as CockroachDB reads it', async () => {
    const raw = `aws-kms:///${KEY}?REGION=us-east-1&AWS_ENDPOINT=${kms.endpoint}&AWS_ACCESS_KEY_ID=${AKID}&AWS_SECRET_ACCESS_KEY=${SECRET}`;
    const p = new AwsKmsProvider(raw);
    await expect(p.encrypt(Buffer.from('x'))).resolves.toBeInstanceOf(Buffer);
    const e = await refusal(new AwsKmsProvider(uri('alias/missing')).encrypt(Buffer.from('x')));
    expect(e.message).not.toContain(SECRET);
    expect(e.message).not.toContain(SECRET.replace('+', ' '));
  });

  test.each([
    ['disabled', (id: string) => kms.disableKey(id), 'DisabledException'],
    ['access denied', (id: string) => kms.denyAccess(id), 'AccessDeniedException'],
    ['pending deletion', (id: string) => kms.deleteKey(id), 'KMSInvalidStateException'],
  ])('%s key -> KeyError naming the key and the service reason; re-granting restores', async (_n, revoke, reason) => {
    const id = `alias/revocable-${reason}`;
    kms.createKey(id);
    const p = new AwsKmsProvider(uri(id));
    const blob = await p.encrypt(Buffer.from('data key'));
    revoke(id);
    for (const e of [await refusal(p.decrypt(blob)), await refusal(p.encrypt(Buffer.from('y')))]) {
      expect(e.exitCode).toBe(3);
      expect(e.message).toContain(reason);
      expect(e.message).toContain(id);
      expect(e.message).not.toContain(SECRET);
      expect(e.message).not.toContain(AKID);
    }
    kms.enableKey(id);
    kms.allowAccess(id);
    if (reason === 'KMSInvalidStateException') return;
    expect((await p.decrypt(blob)).toString()).toBe('data key');
  });

  test('missing key -> NotFoundException; ciphertext of another key -> IncorrectKeyException', async () => {
    expect((await refusal(new AwsKmsProvider(uri('alias/nope')).encrypt(Buffer.from('x')))).message).toContain('NotFoundException');
    const blob = await new AwsKmsProvider(uri(KEY)).encrypt(Buffer.from('x'));
    expect((await refusal(new AwsKmsProvider(uri(ALIAS)).decrypt(blob))).message).toContain('IncorrectKeyException');
    expect((await refusal(new AwsKmsProvider(uri(KEY)).decrypt(Buffer.from('garbage')))).message).toContain('InvalidCiphertextException');
  });

  test('throttling is retried a bounded number of times, then reported', async () => {
    const p = new AwsKmsProvider(uri(KEY), { retryBaseMs: 1, maxAttempts: 3 });
    kms.throttleNext(2);
    const before = kms.calls.length;
    await expect(p.encrypt(Buffer.from('x'))).resolves.toBeInstanceOf(Buffer);
    expect(kms.calls.length - before).toBe(3);
    kms.throttleNext(5);
    const e = await refusal(p.encrypt(Buffer.from('x')));
    expect(e.message).toContain('ThrottlingException');
    expect(e.message).toContain('3 attempts');
    kms.throttleNext(0);
  });

  test('errors that are not throttling are not retried', async () => {
    kms.createKey('alias/once');
    kms.disableKey('alias/once');
    const before = kms.calls.length;
    await refusal(new AwsKmsProvider(uri('alias/once'), { retryBaseMs: 1 }).encrypt(Buffer.from('x')));
    expect(kms.calls.length - before).toBe(1);
  });

  test('unreachable endpoint -> KeyError "unreachable"', async () => {
    const p = new AwsKmsProvider(`aws-kms:///${KEY}?REGION=us-east-1&AWS_ENDPOINT=http://127.0.0.1:1&AWS_ACCESS_KEY_ID=${AKID}&AWS_SECRET_ACCESS_KEY=${SECRET}`);
    const e = await refusal(p.encrypt(Buffer.from('x')));
    expect(e.message).toMatch(/unreachable/);
    expect(e.message).toContain('ECONNREFUSED');
  });

  test('ASSUME_ROLE chain: each role assumed with the credentials of the one before', async () => {
    const chain = 'arn:aws:iam::1:role/delegate;external_id=ext-1,arn:aws:iam::1:role/final';
    const p = new AwsKmsProvider(uri(KEY, `&ASSUME_ROLE=${encodeURIComponent(chain)}`));
    await p.encrypt(Buffer.from('x'));
    expect(kms.assumed.map((a) => [a.role, a.externalId])).toEqual([
      ['arn:aws:iam::1:role/delegate', 'ext-1'],
      ['arn:aws:iam::1:role/final', undefined],
    ]);
    expect(kms.assumed[0].accessKeyId).toBe(AKID);
    expect(kms.assumed[1].accessKeyId).toBe(kms.assumed[0].issued);
    expect(kms.calls[kms.calls.length - 1].accessKeyId).toBe(kms.assumed[1].issued);
  });

  test('URI rules: REGION required, AUTH=specified needs keys, unknown params named without values', () => {
    expect(() => new AwsKmsProvider(`aws-kms:///${KEY}?AWS_ACCESS_KEY_ID=a&AWS_SECRET_ACCESS_KEY=b`)).toThrow(/REGION/);
    expect(() => new AwsKmsProvider(`aws-kms:///${KEY}?REGION=us-east-1`)).toThrow(/AWS_ACCESS_KEY_ID is not set/);
    expect(() => new AwsKmsProvider(`aws-kms:///${KEY}?REGION=us-east-1&AUTH=magic`)).toThrow(UsageError);
    expect(() => new AwsKmsProvider(`aws-kms:///${KEY}?REGION=us-east-1&AUTH=implicit`)).not.toThrow();
    let err: unknown;
    try {
      new AwsKmsProvider(`aws-kms:///${KEY}?REGION=us-east-1&AWS_SECRET_KEY=hunter2hunter2&AUTH=implicit`);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as Error).message).toContain('AWS_SECRET_KEY');
    expect((err as Error).message).not.toContain('hunter2');
  });

  test('displayUri is redacted', () => {
    const p = new AwsKmsProvider(uri(KEY, '&AWS_SESSION_TOKEN=tok-123456'));
    expect(p.displayUri).not.toContain(SECRET);
    expect(p.displayUri).not.toContain('tok-123456');
    expect(p.displayUri).toContain('REGION=us-east-1');
  });

  test('checkKey wraps and unwraps a probe and reports latency', async () => {
    const r = await checkKey(new AwsKmsProvider(uri(ALIAS)));
    expect(r).toMatchObject({ provider: 'aws-kms', keyId: ALIAS, ok: true });
    expect(r.latencyMs).toBeGreaterThanOrEqual(0);
    kms.disableKey(ALIAS);
    try {
      expect((await refusal(checkKey(new AwsKmsProvider(uri(ALIAS))))).message).toContain('DisabledException');
    } finally {
      kms.enableKey(ALIAS);
    }
  });
});
