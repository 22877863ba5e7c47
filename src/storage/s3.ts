/**
 * S3 object store (s3://bucket/prefix?..., CockroachDB's parameters; see uri.ts) on @aws-sdk/client-s3.
 *
 * - Listing: ListObjectsV2, paginated by continuation token (1000 keys a page on AWS).
 * - Random access: ranged GetObject; streams: GetObject bodies wrapped in ResumingReadable, which
 *   reopens at the byte reached after a reset, a stall or a short body.
 * - Writes: @aws-sdk/lib-storage Upload: one PutObject below PART_SIZE, else multipart with at most
 *   QUEUE_SIZE parts in flight, so memory stays about (PART_SIZE + 1 MiB) * (QUEUE_SIZE + 1) whatever
 *   the size (about 27 MiB per upload with the defaults; measured in storage-s3.test.ts).
 *   S3 makes an object visible only when PutObject / CompleteMultipartUpload succeeds, so writes are
 *   atomic; a failed multipart upload is aborted (leavePartsOnError false).
 * - Retries: every HTTP request goes through the SDK retry middleware driven by our RetryStrategy
 *   (full-jitter backoff, the store's shared budget); mid-body failures are retried by withRetry /
 *   ResumingReadable under the same budget.
 *
 * Checksums (deliberate): requestChecksumCalculation and responseChecksumValidation are WHEN_REQUIRED.
 * Since SDK 3.729 the default (WHEN_SUPPORTED) sends streaming bodies with `aws-chunked` framing and a
 * CRC32 trailer and asks for CRC32 on multipart uploads; several S3-compatible servers (s3rver stores
 * the framing as data; older MinIO and Ceph reject or mishandle it) that CockroachDB users point
 * AWS_ENDPOINT at break on that. Integrity does not depend on it: SigV4 signs every request, TLS
 * protects transit to AWS, every ciphertext chunk we write or read is authenticated by AES-GCM, and
 * verify reads objects back. Ranged GETs could not be validated against whole-object checksums anyway.
 */
import { Readable } from 'node:stream';
import {
  S3Client,
  ListObjectsV2Command,
  HeadObjectCommand,
  GetObjectCommand,
  DeleteObjectCommand,
  type ListObjectsV2CommandOutput,
  type S3ClientConfig,
  type StorageClass,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { fromNodeProviderChain, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { CliError, StorageError } from '../errors';
import type { ObjectInfo, ObjectStore } from './object-store';
import { joinKey } from './object-store';
import { parseS3Uri, type S3Location } from './uri';
import {
  newRetryContext,
  readAll,
  ResumingReadable,
  retryOptions,
  sdkRetryStrategy,
  toStorageError,
  withRetry,
  type RetryContext,
  type RetryPolicy,
  RetryBudget,
} from './retry';

export const PART_SIZE = 8 * 1024 * 1024;
export const QUEUE_SIZE = 2;

export interface S3StoreOptions {
  policy?: Partial<RetryPolicy>;
  budget?: RetryBudget | number;
  env?: NodeJS.ProcessEnv;
  /** Multipart part size (default 8 MiB; S3's minimum is 5 MiB except for the last part). */
  partSize?: number;
  queueSize?: number;
  /** Keys per listing page (default: the service's, 1000 on AWS). */
  pageSize?: number;
}

type Creds = AwsCredentialIdentity | AwsCredentialIdentityProvider;

/** Credentials as CockroachDB builds them: static keys or the default chain, then the ASSUME_ROLE chain. */
export function s3Credentials(loc: S3Location): Creds {
  let creds: Creds =
    loc.auth === 'implicit'
      ? fromNodeProviderChain()
      : { accessKeyId: loc.accessKeyId!, secretAccessKey: loc.secretAccessKey!, sessionToken: loc.sessionToken };
  for (const r of loc.assumeRole) {
    creds = fromTemporaryCredentials({
      masterCredentials: creds,
      params: { RoleArn: r.role, RoleSessionName: 'crdb-cmek', ...(r.externalId ? { ExternalId: r.externalId } : {}) },
      clientConfig: { region: loc.region ?? 'us-east-1', ...(loc.endpoint ? { endpoint: loc.endpoint } : {}) },
    });
  }
  return creds;
}

export function s3ClientConfig(loc: S3Location, ctx: RetryContext): S3ClientConfig {
  return {
    region: loc.region ?? 'us-east-1',
    ...(loc.endpoint ? { endpoint: loc.endpoint } : {}),
    forcePathStyle: loc.forcePathStyle,
    followRegionRedirects: !loc.region && !loc.endpoint,
    credentials: s3Credentials(loc),
    maxAttempts: ctx.policy.attempts,
    retryStrategy: sdkRetryStrategy(ctx),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: Math.min(10_000, ctx.policy.timeoutMs || 10_000), socketTimeout: ctx.policy.timeoutMs || undefined },
    // The SDK logs nothing by default; keep it that way (messages could echo request details).
    logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
  };
}

/** Finds a CliError carried by an SDK/stream error (e.g. an IntegrityError raised by the source stream). */
function carriedCliError(e: unknown): CliError | undefined {
  for (let x = e as { cause?: unknown } | undefined, i = 0; x && i < 5; x = x.cause as { cause?: unknown }, i++) {
    if (x instanceof CliError) return x;
  }
  return undefined;
}

export class S3Store implements ObjectStore {
  readonly displayUri: string;
  readonly loc: S3Location;
  readonly client: S3Client;
  readonly retry: RetryContext;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly pageSize?: number;
  private readonly root: string;

  constructor(uriOrLoc: string | S3Location, opts: S3StoreOptions = {}) {
    this.loc = typeof uriOrLoc === 'string' ? parseS3Uri(uriOrLoc) : uriOrLoc;
    this.displayUri = this.loc.displayUri;
    this.retry = newRetryContext({ policy: opts.policy, budget: opts.budget, secrets: this.loc.secrets });
    this.client = new S3Client(s3ClientConfig(this.loc, this.retry));
    this.partSize = Math.max(5 * 1024 * 1024, opts.partSize ?? PART_SIZE);
    this.queueSize = Math.max(1, opts.queueSize ?? QUEUE_SIZE);
    this.pageSize = opts.pageSize;
    this.root = `s3://${this.loc.bucket}${this.loc.prefix ? `/${this.loc.prefix}` : ''}`;
  }

  /** Printable name of one object. */
  private where(key: string): string {
    return key ? `${this.root}/${key}` : this.root;
  }

  private full(key: string): string {
    const k = joinKey(key);
    return this.loc.prefix ? `${this.loc.prefix}/${k}` : k;
  }

  /** One SDK call (already retried by the SDK under our strategy); failures become StorageError. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private async send<T>(cmd: any, action: string, key: string, signal?: AbortSignal): Promise<T> {
    try {
      return (await this.client.send(cmd as never, signal ? { abortSignal: signal } : undefined)) as T;
    } catch (e) {
      const err = e as { $metadata?: { attempts?: number }; $budgetExhausted?: boolean };
      throw toStorageError(e, {
        action,
        what: this.where(key),
        secrets: this.retry.secrets,
        attempts: err?.$metadata?.attempts,
        budgetExhausted: err?.$budgetExhausted,
      });
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const base = this.loc.prefix ? `${this.loc.prefix}/` : '';
    const full = base + prefix.replace(/^\/+/, '');
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await this.send(
        new ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix: full, ContinuationToken: token, ...(this.pageSize ? { MaxKeys: this.pageSize } : {}) }),
        'list',
        prefix,
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key || !o.Key.startsWith(base) || o.Key.endsWith('/')) continue;
        yield { key: o.Key.slice(base.length), size: Number(o.Size ?? 0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.send<{ ContentLength?: number }>(new HeadObjectCommand({ Bucket: this.loc.bucket, Key: this.full(key) }), 'stat', key);
      return { key, size: Number(out.ContentLength ?? 0) };
    } catch (e) {
      if (e instanceof StorageError && e.message.startsWith('not found')) return undefined;
      throw e;
    }
  }

  /** GET (optionally ranged) and read the whole body; a body failure is retried as a whole. */
  private async getBuffer(key: string, range: [number, number] | undefined, action: string): Promise<Buffer> {
    return withRetry(
      async (_, signal) => {
        let out: { Body?: unknown; ContentLength?: number };
        try {
          out = await this.send(
            new GetObjectCommand({ Bucket: this.loc.bucket, Key: this.full(key), ...(range ? { Range: `bytes=${range[0]}-${range[1] - 1}` } : {}) }),
            action,
            key,
            signal,
          );
        } catch (e) {
          if (range && e instanceof StorageError && /InvalidRange|HTTP 416/.test(e.message)) return Buffer.alloc(0);
          throw e;
        }
        return readAll(out.Body as Readable, out.ContentLength, this.retry.policy.timeoutMs);
      },
      retryOptions(this.retry, action, this.where(key)),
    );
  }

  async read(key: string): Promise<Buffer> {
    return this.getBuffer(key, undefined, 'read');
  }

  async readRange(key: string, start: number, end: number): Promise<Buffer> {
    if (start < 0 || end < start) throw new StorageError(`invalid range [${start}, ${end}) for ${this.where(key)}`, 'InvalidRange');
    if (end === start) {
      if (!(await this.stat(key))) throw new StorageError(`not found: read ${this.where(key)}`, 'NoSuchKey');
      return Buffer.alloc(0);
    }
    return this.getBuffer(key, [start, end], 'read');
  }

  async createReadStream(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const start = range?.start ?? 0;
    if (range && range.end <= range.start) {
      if (!(await this.stat(key))) throw new StorageError(`not found: read ${this.where(key)}`, 'NoSuchKey');
      return Readable.from([]);
    }
    const get = (pos: number, end: number | undefined, signal?: AbortSignal) =>
      this.send<{ Body?: unknown; ContentLength?: number }>(
        new GetObjectCommand({
          Bucket: this.loc.bucket,
          Key: this.full(key),
          ...(pos > 0 || end !== undefined ? { Range: `bytes=${pos}-${end !== undefined ? end - 1 : ''}` } : {}),
        }),
        'read',
        key,
        signal,
      );
    let first: { Body?: unknown; ContentLength?: number };
    try {
      first = await get(start, range?.end);
    } catch (e) {
      if (range && e instanceof StorageError && /InvalidRange|HTTP 416/.test(e.message)) return Readable.from([]);
      throw e;
    }
    const end = start + Number(first.ContentLength ?? 0);
    return new ResumingReadable(
      async (pos, signal) => (await get(pos, end, signal)).Body as Readable,
      start,
      end,
      this.retry,
      'read',
      this.where(key),
      first.Body as Readable,
    );
  }

  async write(key: string, data: Buffer | Readable): Promise<void> {
    const upload = new Upload({
      client: this.client,
      queueSize: this.queueSize,
      partSize: this.partSize,
      leavePartsOnError: false,
      params: {
        Bucket: this.loc.bucket,
        Key: this.full(key),
        Body: data,
        ...(this.loc.storageClass ? { StorageClass: this.loc.storageClass as StorageClass } : {}),
        ...(this.loc.serverEncMode ? { ServerSideEncryption: this.loc.serverEncMode as ServerSideEncryption } : {}),
        ...(this.loc.serverKmsId ? { SSEKMSKeyId: this.loc.serverKmsId } : {}),
      },
    });
    try {
      await upload.done();
    } catch (e) {
      const carried = carriedCliError(e);
      if (carried) throw carried;
      const err = e as { $metadata?: { attempts?: number }; $budgetExhausted?: boolean };
      throw toStorageError(e, {
        action: 'write',
        what: this.where(key),
        secrets: this.retry.secrets,
        attempts: err?.$metadata?.attempts,
        budgetExhausted: err?.$budgetExhausted,
      });
    } finally {
      if (!Buffer.isBuffer(data) && !data.destroyed && !data.readableEnded) data.destroy();
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.send(new DeleteObjectCommand({ Bucket: this.loc.bucket, Key: this.full(key) }), 'delete', key);
    } catch (e) {
      // Deleting a missing object is not an error (S3 itself answers 204 for it).
      if (e instanceof StorageError && e.message.startsWith('not found')) return;
      throw e;
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
