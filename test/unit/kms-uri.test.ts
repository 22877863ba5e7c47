import { parseKmsUri, parseRoleChain, authMode } from '../../src/kms/uri';
import { openKms, kmsScheme } from '../../src/kms';
import { UsageError, KeyError } from '../../src/errors';

describe('KMS URI parsing (CockroachDB rules)', () => {
  test('path is percent-decoded, params are first-value, case-sensitive names', () => {
    const u = parseKmsUri('aws-kms:///alias%2Fmy-key?REGION=us-east-1&REGION=eu-west-1', ['REGION']);
    expect(u.scheme).toBe('aws-kms');
    expect(u.path).toBe('/alias/my-key');
    expect(u.params.get('REGION')).toBe('us-east-1');
    expect(() => parseKmsUri('aws-kms:///k?region=us-east-1', ['REGION'])).toThrow(/unknown KMS query parameters: region/);
  });

  test('unknown parameters: every name listed once, no value ever', () => {
    let err: Error | undefined;
    try {
      parseKmsUri('gcp-kms:///k?FOO=s3cr3t-value-1&BAR=s3cr3t-value-2&FOO=x&AUTH=implicit', ['AUTH']);
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect(err!.message).toBe('unknown KMS query parameters: FOO, BAR');
    expect(`${err!.message} ${(err as UsageError).hint}`).not.toMatch(/s3cr3t/);
  });

  test('secrets collected for scrubbing, display URI redacted', () => {
    const u = parseKmsUri('aws-kms:///k?AWS_ACCESS_KEY_ID=AKIA1234&AWS_SECRET_ACCESS_KEY=abc%2Bdef&REGION=r', ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'REGION']);
    expect(u.secrets).toEqual(expect.arrayContaining(['AKIA1234', 'abc+def']));
    expect(u.displayUri).not.toMatch(/AKIA1234|abc/);
  });

  test('ASSUME_ROLE chain: delegates in order, last one assumed, optional external_id', () => {
    expect(parseRoleChain(undefined)).toEqual({ delegates: [] });
    expect(parseRoleChain('arn:a;external_id=e1,arn:b,arn:c;external_id=e3')).toEqual({
      assume: { role: 'arn:c', externalId: 'e3' },
      delegates: [{ role: 'arn:a', externalId: 'e1' }, { role: 'arn:b' }],
    });
    expect(() => parseRoleChain('arn:a,,arn:b')).toThrow(UsageError);
  });

  test('AUTH: empty and specified are specified; implicit; anything else is usage', () => {
    const mk = (q: string) => parseKmsUri(`aws:///k${q}`, ['AUTH']);
    expect(authMode(mk(''))).toBe('specified');
    expect(authMode(mk('?AUTH=specified'))).toBe('specified');
    expect(authMode(mk('?AUTH=implicit'))).toBe('implicit');
    expect(() => authMode(mk('?AUTH=IMPLICIT'))).toThrow(UsageError);
  });

  test('openKms dispatches by scheme and refuses unknown ones as usage errors', () => {
    expect(kmsScheme('AWS-KMS:///x')).toBe('aws-kms');
    expect(() => openKms('azure-kms:///vault/key')).toThrow(UsageError);
    expect(() => openKms('not a uri')).toThrow(UsageError);
    expect(() => openKms('file:///definitely/not/here.key')).toThrow(KeyError);
  });
});
