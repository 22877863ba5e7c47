/**
 * AWS KMS (`aws-kms:///<key>?REGION=..` or `aws:///<key>?..`), with CockroachDB's parameters and rules
 * (pkg/cloud/amazon/aws_kms.go):
 * - the master key ID is the URI path without its leading '/', verbatim (key id, ARN or alias);
 * - REGION is required; AUTH is 'specified' (the default: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
 *   required, AWS_SESSION_TOKEN optional) or 'implicit' (the SDK's default credential chain);
 * - AWS_ENDPOINT overrides the KMS (and STS) endpoint;
 * - ASSUME_ROLE is a chain `role[;external_id=x],...`: each delegate is assumed with the credentials of
 *   the one before, the last role finally;
 * - a space in AWS_SECRET_ACCESS_KEY is a '+' that was not escaped in the query string;
 * - Encrypt(KeyId, Plaintext) with no encryption context; Decrypt(CiphertextBlob, KeyId).
 * Failures are KeyErrors naming the key and the service's own error name and message. Only throttling
 * is retried (a few times, with jittered backoff); everything else is reported at once.
 */
import { KMSClient, EncryptCommand, DecryptCommand, type KMSClientConfig } from '@aws-sdk/client-kms';
import { fromNodeProviderChain, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { UsageError } from '../errors';
import type { KmsProvider } from './provider';
import { parseKmsUri, parseRoleChain, authMode, type KmsUri } from './uri';
import { KmsRefusedError, networkCode, sleep, backoffMs } from './kms-error';

export const AWS_KMS_PARAMS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_ENDPOINT', 'REGION', 'AUTH', 'ASSUME_ROLE'] as const;

/** AWS error names that mean "slow down": the only ones we retry. */
const THROTTLING = new Set(['ThrottlingException', 'Throttling', 'ThrottledException', 'TooManyRequestsException', 'RequestLimitExceeded', 'LimitExceededException', 'SlowDown']);

export interface AwsKmsOptions {
  env?: NodeJS.ProcessEnv;
  /** Attempts for throttled calls (default 4). */
  maxAttempts?: number;
  /** Base backoff in ms (default 200). */
  retryBaseMs?: number;
  /** Per-request timeout in ms (default 30000). */
  timeoutMs?: number;
}

export const AAD_CONTEXT_KEY = 'crdb-cmek-aad';

export class AwsKmsProvider implements KmsProvider {
  readonly provider = 'aws-kms';
  readonly keyId: string;
  readonly displayUri: string;
  readonly region: string;
  readonly endpoint?: string;
  private readonly client: KMSClient;
  private readonly secrets: string[];
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;

  constructor(uri: string | KmsUri, opts: AwsKmsOptions = {}) {
    const u = typeof uri === 'string' ? parseKmsUri(uri, AWS_KMS_PARAMS) : uri;
    if (u.scheme !== 'aws-kms' && u.scheme !== 'aws') throw new UsageError(`not an AWS KMS URI: ${u.displayUri}`);
    this.displayUri = u.displayUri;
    this.secrets = [...u.secrets];
    this.keyId = u.path.replace(/^\//, '');
    if (!this.keyId) throw new UsageError(`AWS KMS URI names no key: ${u.displayUri}`, 'aws-kms:///<key id, ARN or alias>?REGION=...');
    const p = (n: string) => u.params.get(n) ?? '';
    this.region = p('REGION');
    if (!this.region) throw new UsageError(`aws kms REGION parameter not specified in ${u.displayUri}`);
    this.endpoint = p('AWS_ENDPOINT') || undefined;
    if (this.endpoint && !/^[a-z]+:\/\//i.test(this.endpoint)) this.endpoint = `https://${this.endpoint}`;

    let credentials: NonNullable<KMSClientConfig['credentials']>;
    if (authMode(u) === 'specified') {
      const accessKeyId = p('AWS_ACCESS_KEY_ID');
      const secretAccessKey = p('AWS_SECRET_ACCESS_KEY').replace(/ /g, '+');
      if (!accessKeyId) throw new UsageError("AUTH is set to 'specified', but AWS_ACCESS_KEY_ID is not set", 'give the keys, or AUTH=implicit for the SDK default chain');
      if (!secretAccessKey) throw new UsageError("AUTH is set to 'specified', but AWS_SECRET_ACCESS_KEY is not set");
      this.secrets.push(secretAccessKey);
      credentials = { accessKeyId, secretAccessKey, sessionToken: p('AWS_SESSION_TOKEN') || undefined };
    } else {
      credentials = fromNodeProviderChain();
    }
    const chain = parseRoleChain(p('ASSUME_ROLE') || undefined);
    if (chain.assume) {
      for (const role of [...chain.delegates, chain.assume]) {
        credentials = fromTemporaryCredentials({
          masterCredentials: credentials,
          params: { RoleArn: role.role, ExternalId: role.externalId, RoleSessionName: 'crdb-cmek' },
          clientConfig: { region: this.region, endpoint: this.endpoint, maxAttempts: 1 },
        });
      }
    }
    const timeoutMs = opts.timeoutMs ?? 30_000;
    this.client = new KMSClient({
      region: this.region,
      endpoint: this.endpoint,
      credentials,
      maxAttempts: 1, // our own loop retries throttling only
      requestHandler: { requestTimeout: timeoutMs, connectionTimeout: Math.min(timeoutMs, 10_000) },
    });
    this.maxAttempts = opts.maxAttempts ?? 4;
    this.retryBaseMs = opts.retryBaseMs ?? 200;
  }

  async encrypt(plaintext: Buffer, aad?: Buffer): Promise<Buffer> {
    const out = await this.call('encrypt', () =>
      this.client.send(
        new EncryptCommand({
          KeyId: this.keyId,
          Plaintext: plaintext,
          EncryptionContext: aad ? { [AAD_CONTEXT_KEY]: aad.toString('base64') } : undefined,
        }),
      ),
    );
    if (!out.CiphertextBlob) throw this.refused('encrypt', 'EmptyResponse', 'the service returned no ciphertext');
    return Buffer.from(out.CiphertextBlob);
  }

  async decrypt(ciphertext: Buffer, aad?: Buffer): Promise<Buffer> {
    const out = await this.call('decrypt', () =>
      this.client.send(
        new DecryptCommand({
          KeyId: this.keyId,
          CiphertextBlob: ciphertext,
          EncryptionContext: aad ? { [AAD_CONTEXT_KEY]: aad.toString('base64') } : undefined,
        }),
      ),
    );
    if (!out.Plaintext) throw this.refused('decrypt', 'EmptyResponse', 'the service returned no plaintext');
    return Buffer.from(out.Plaintext);
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private async call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
        const name = e?.name ?? 'Error';
        if (THROTTLING.has(name) && attempt + 1 < this.maxAttempts) {
          await sleep(backoffMs(attempt, this.retryBaseMs));
          continue;
        }
        throw this.mapError(op, err, attempt + 1);
      }
    }
  }

  private mapError(op: string, err: unknown, attempts: number): KmsRefusedError {
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number }; code?: string };
    const net = networkCode(err);
    if (net || (e?.name === 'TimeoutError' && !e.$metadata?.httpStatusCode)) {
      return this.refused(op, 'unreachable', `${net ?? e.name}: ${e?.message ?? ''} (endpoint ${this.endpoint ?? `AWS KMS in ${this.region}`})`.trim());
    }
    let detail = e?.message ?? String(err);
    if (THROTTLING.has(e?.name ?? '')) detail += ` (gave up after ${attempts} attempts)`;
    return this.refused(op, e?.name ?? 'Error', detail);
  }

  private refused(op: string, reason: string, detail: string): KmsRefusedError {
    return new KmsRefusedError({ provider: this.provider, keyId: this.keyId, displayUri: this.displayUri, op, reason, detail, secrets: this.secrets });
  }
}
