import { UsageError } from '../../src/errors';
import { openStore } from '../../src/storage';
import { parseAssumeRole, parseGcsUri, parseS3Uri } from '../../src/storage/uri';

const S3 = 's3://bkt/some/prefix/?AWS_ACCESS_KEY_ID=AKIAEXAMPLEKEY&AWS_SECRET_ACCESS_KEY=sec%2Fret%2Bvalue';

function usage(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).exitCode).toBe(2);
    return e as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('s3:// URIs', () => {
  test('bucket, prefix (slashes trimmed), keys, defaults', () => {
    const l = parseS3Uri(S3);
    expect(l).toMatchObject({ scheme: 's3', bucket: 'bkt', prefix: 'some/prefix', auth: 'specified', accessKeyId: 'AKIAEXAMPLEKEY', secretAccessKey: 'sec/ret+value', forcePathStyle: false, assumeRole: [] });
    expect(parseS3Uri('s3://bkt?AUTH=implicit').prefix).toBe('');
  });

  test('every CockroachDB parameter', () => {
    const l = parseS3Uri(
      's3://b/p?AUTH=implicit&AWS_SESSION_TOKEN=tok&AWS_ENDPOINT=http://127.0.0.1:9000&AWS_REGION=eu-west-1&AWS_USE_PATH_STYLE=false' +
        '&ASSUME_ROLE=arn:aws:iam::1:role/a;external_id=x1,arn:aws:iam::2:role/b&S3_STORAGE_CLASS=STANDARD_IA&AWS_SERVER_ENC_MODE=aws:kms&AWS_SERVER_KMS_ID=kms-1',
    );
    expect(l).toMatchObject({
      auth: 'implicit',
      sessionToken: 'tok',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      forcePathStyle: false,
      storageClass: 'STANDARD_IA',
      serverEncMode: 'aws:kms',
      serverKmsId: 'kms-1',
      assumeRole: [{ role: 'arn:aws:iam::1:role/a', externalId: 'x1' }, { role: 'arn:aws:iam::2:role/b' }],
    });
  });

  test('path style: explicit wins, else on exactly when AWS_ENDPOINT is set', () => {
    expect(parseS3Uri('s3://b/p?AUTH=implicit&AWS_ENDPOINT=http://h:1').forcePathStyle).toBe(true);
    expect(parseS3Uri('s3://b/p?AUTH=implicit&AWS_USE_PATH_STYLE=true').forcePathStyle).toBe(true);
    usage(() => parseS3Uri('s3://b/p?AUTH=implicit&AWS_USE_PATH_STYLE=maybe'));
  });

  test('a space in the secret (unescaped +) becomes + again, as CockroachDB does', () => {
    expect(parseS3Uri('s3://b/p?AWS_ACCESS_KEY_ID=k&AWS_SECRET_ACCESS_KEY=ab+cd').secretAccessKey).toBe('ab+cd');
  });

  test('AUTH rules', () => {
    expect(usage(() => parseS3Uri('s3://b/p')).message).toMatch(/AWS_ACCESS_KEY_ID is not set/);
    expect(usage(() => parseS3Uri('s3://b/p?AUTH=specified&AWS_ACCESS_KEY_ID=k')).message).toMatch(/AWS_SECRET_ACCESS_KEY is not set/);
    expect(usage(() => parseS3Uri('s3://b/p?AUTH=magic&AWS_ACCESS_KEY_ID=k')).message).toMatch(/AUTH/);
    expect(parseS3Uri('s3://b/p?AUTH=implicit').auth).toBe('implicit');
    expect(parseS3Uri('s3://b/p?AUTH=&AWS_ACCESS_KEY_ID=k&AWS_SECRET_ACCESS_KEY=s').auth).toBe('specified');
  });

  test('server-side encryption rules', () => {
    expect(usage(() => parseS3Uri('s3://b/p?AUTH=implicit&AWS_SERVER_ENC_MODE=aws:kms')).message).toMatch(/AWS_SERVER_KMS_ID/);
    usage(() => parseS3Uri('s3://b/p?AUTH=implicit&AWS_SERVER_ENC_MODE=rot13'));
    expect(parseS3Uri('s3://b/p?AUTH=implicit&AWS_SERVER_ENC_MODE=AES256').serverEncMode).toBe('AES256');
  });

  test('unknown parameters are named (never their values); names are case-sensitive; duplicates refused', () => {
    const e = usage(() => parseS3Uri(`${S3}&BOGUS=topsecretvalue&aws_region=x`));
    expect(e.message).toContain('BOGUS');
    expect(e.message).toContain('aws_region');
    expect(e.message).not.toContain('topsecretvalue');
    expect(e.message).not.toContain('sec/ret');
    const d = usage(() => parseS3Uri(`${S3}&AWS_SECRET_ACCESS_KEY=second-secret`));
    expect(d.message).toContain('AWS_SECRET_ACCESS_KEY');
    expect(d.message).not.toContain('second-secret');
  });

  test('malformed: no bucket, credentials in the authority, bad endpoint, empty role', () => {
    usage(() => parseS3Uri('s3:///p?AUTH=implicit'));
    const e = usage(() => parseS3Uri('s3://user:pa55word@b/p?AUTH=implicit'));
    expect(e.message).not.toContain('pa55word');
    usage(() => parseS3Uri('s3://b/p?AUTH=implicit&AWS_ENDPOINT=ftp://x'));
    usage(() => parseS3Uri('s3://b/p?AUTH=implicit&ASSUME_ROLE=a,,b'));
    usage(() => parseS3Uri('s3://b/p?AUTH=implicit&ASSUME_ROLE=a;session=x'));
  });
});

describe('gs:// URIs', () => {
  test('parameters and AUTH rules', () => {
    const l = parseGcsUri('gs://bk/a/b?AUTH=specified&BEARER_TOKEN=tkn&GOOGLE_BILLING_PROJECT=pay&ASSUME_ROLE=x@p.iam.gserviceaccount.com,y@p.iam.gserviceaccount.com');
    expect(l).toMatchObject({ scheme: 'gs', bucket: 'bk', prefix: 'a/b', auth: 'specified', bearerToken: 'tkn', billingProject: 'pay' });
    expect(l.assumeRole.map((r) => r.role)).toEqual(['x@p.iam.gserviceaccount.com', 'y@p.iam.gserviceaccount.com']);
    expect(parseGcsUri('gs://bk/p?AUTH=implicit').auth).toBe('implicit');
    expect(parseGcsUri('gs://bk/p?CREDENTIALS=Zm9v').credentials).toBe('Zm9v');
    expect(usage(() => parseGcsUri('gs://bk/p')).message).toMatch(/CREDENTIALS or BEARER_TOKEN/);
    usage(() => parseGcsUri('gs://bk/p?AUTH=implicit&ASSUME_ROLE=a;external_id=1'));
  });

  test('unknown parameters (AWS ones included) are refused by name', () => {
    const e = usage(() => parseGcsUri('gs://bk/p?BEARER_TOKEN=zzzsecret&AWS_REGION=us'));
    expect(e.message).toContain('AWS_REGION');
    expect(e.message).not.toContain('zzzsecret');
  });
});

test('parseAssumeRole: the last role is assumed finally, earlier ones are delegates in order', () => {
  expect(parseAssumeRole('r1;external_id=e1,r2,r3;external_id=e3', 'x')).toEqual([{ role: 'r1', externalId: 'e1' }, { role: 'r2' }, { role: 'r3', externalId: 'e3' }]);
  expect(parseAssumeRole(undefined, 'x')).toEqual([]);
});

describe('redaction', () => {
  const secrets = ['AKIAEXAMPLEKEY', 'sec/ret+value', 'sec%2Fret%2Bvalue', 'SESSIONTOKENXYZ', 'GCPBEARERTOKEN', 'Q1JFREVOVElBTFNKU09O'];
  const uris = [
    `${S3}&AWS_SESSION_TOKEN=SESSIONTOKENXYZ`,
    'gs://bk/p?BEARER_TOKEN=GCPBEARERTOKEN',
    'gs://bk/p?CREDENTIALS=Q1JFREVOVElBTFNKU09O',
  ];

  test('displayUri never carries a secret value', async () => {
    for (const u of uris) {
      const loc = u.startsWith('s3') ? parseS3Uri(u) : parseGcsUri(u);
      for (const s of secrets) expect(loc.displayUri).not.toContain(s);
      expect(loc.displayUri).toContain('redacted');
    }
    const s3 = await openStore(`${S3}&AWS_SESSION_TOKEN=SESSIONTOKENXYZ`);
    for (const s of secrets) expect(s3.displayUri).not.toContain(s);
    await s3.close?.();
  });

  test('errors about secret-bearing URIs do not echo the secrets', async () => {
    const bad = [
      `${S3}&AWS_SESSION_TOKEN=SESSIONTOKENXYZ&NOPE=1`,
      `${S3}&AWS_SESSION_TOKEN=SESSIONTOKENXYZ&AWS_SERVER_ENC_MODE=aws:kms`,
      'gs://bk/p?BEARER_TOKEN=GCPBEARERTOKEN&FOO=bar',
      'gs://bk/p?CREDENTIALS=Q1JFREVOVElBTFNKU09O', // not a JSON key: rejected when opened
      's3://?AWS_ACCESS_KEY_ID=AKIAEXAMPLEKEY&AWS_SECRET_ACCESS_KEY=sec%2Fret%2Bvalue',
    ];
    for (const u of bad) {
      const err = (await openStore(u).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(UsageError);
      for (const s of secrets) {
        expect(err.message).not.toContain(s);
        expect((err as UsageError).hint ?? '').not.toContain(s);
      }
    }
  });
});
